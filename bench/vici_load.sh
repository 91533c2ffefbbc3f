#!/usr/bin/env bash
# Runs bench_vici_load against a private charon in a namespace (the interop
# suite's isolation: own strongswan.conf, private /run, own vici socket).
#   bench/vici_load.sh [BUILD_DIR] [COUNT] [RUNS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
count=${2:-1000}
runs=${3:-5}
source "$here/../tests/interop/lib/sites.sh"
sites_init
[ -x "$build/bin/bench_vici_load" ] || skip "bench_vici_load not built in $build"
make_ns a
start_charon a
mkdir -p "$WORK/bench"
STRONGSWAN_CONF="$WORK/a/strongswan.conf" "$build/bin/bench_vici_load" \
    --socket "$(vici_socket a)" --work "$WORK/bench" --count "$count" --runs "$runs"
