#!/usr/bin/env bash
# package_completion: the bash completion shipped for avpnctl, driven the
# way bash drives it (COMP_WORDS, COMP_CWORD), against the built avpnctl.
# It reads commands and options from avpnctl's --help, so a new command or
# option must complete without touching the script.
set -euo pipefail
src=${AVPN_SOURCE_DIR:?} bin=${AVPN_BIN:?}
export AVPNCTL=$bin/avpnctl
# shellcheck source=../../packaging/bash-completion/avpnctl
. "$src/packaging/bash-completion/avpnctl"
complete -p avpnctl >/dev/null || { echo "FAIL: no completion registered for avpnctl"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/sites" "$work/state"
touch "$work/sites/hq.toml" "$work/sites/notes.txt"

fail=0
expect() {  # expect "WANT" WORDS... (the last word is the one completed)
  local want=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _avpnctl || true   # bash ignores its status; compgen fails when nothing matches
  local got="${COMPREPLY[*]}"
  if [ "$got" = "$want" ]; then echo "ok: [$*] -> $got"; else echo "FAIL: [$*] -> '$got', want '$want'"; fail=1; fi
}
commands=$("$bin/avpnctl" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | xargs)
[ -n "$commands" ] || { echo "FAIL: avpnctl --help lists no commands"; exit 1; }
expect "$commands" avpnctl ""
expect "apply" avpnctl ap
expect "--help --version" avpnctl --
expect "--state-dir" avpnctl apply --st
expect "--dry-run" avpnctl apply --dr
expect "--group" avpnctl member --g
expect "$work/state" avpnctl down --state-dir "$work/st"
# A site file: .toml files and directories, not other files.
expect "$work/sites/hq.toml" avpnctl check "$work/sites/"
# A value with nothing to offer (a duration), and a command without FILE.
expect "" avpnctl apply --confirm ""
expect "" avpnctl genkey ""
# The value of --json-like flags is no value: the next word is an option or FILE.
expect "$work/sites/hq.toml" avpnctl apply --json "$work/sites/h"
exit "$fail"
