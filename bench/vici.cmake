# bench_vici_load: avpn's reconciler vs swanctl --load-all, 1,000 tunnels.
# Run with bench/vici_load.sh (needs root: a charon in a namespace).
add_executable(bench_vici_load ${CMAKE_CURRENT_LIST_DIR}/vici_load.cpp)
target_link_libraries(bench_vici_load PRIVATE avpn_vici)
