#!/bin/bash
# Inside the kernel tier's VM (see run): bench/failover.sh REPS KIND for
# each KIND given, one after the other.
# Usage: guest.sh REPS KIND...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reps=${1:?REPS}; shift
rc=0
for kind in "$@"; do
  echo "failover-vm: $kind, $reps failovers"
  bash "$here/../failover.sh" "$reps" "$kind" || rc=$?
done
exit "$rc"
