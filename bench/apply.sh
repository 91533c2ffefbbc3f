#!/usr/bin/env bash
# Runs bench_apply (root: each side gets its own network namespace).
#   bench/apply.sh [BUILD_DIR] [SPOKES ...]     default: 2000 10000
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
shift || true
[ -x "$build/bin/bench_apply" ] || { echo "bench_apply not built in $build"; exit 77; }
exec "$build/bin/bench_apply" "$@"
