#!/usr/bin/env bash
# package_install: the .deb package_deb made, installed the way a user does
# it, in a fresh minimal Debian 12 root (debootstrap, cached per machine by
# tests/package/debian-root; each run gets a throwaway overlay on it):
# - `apt-get install ./avpn_*.deb` resolves every dependency from the
#   machine's Debian mirror (downloads cached in $AVPN_TEST_CACHE);
# - the installed binaries run: --version, `avpnctl check` and `plan` of an
#   example site;
# - avpnd.service is enabled (systemctl is-enabled, and multi-user.target
#   wants it), systemd-analyze verify finds nothing to say about it,
#   /etc/avpn is 0700, the man pages, completion, modules-load.d and
#   tmpfiles.d are there;
# - then `apt-get install ./avpn-registry_*.deb` (a registry host's
#   package): avpn-registry runs, avpn-registry.service is enabled and
#   verified, /etc/avpn-registry and its two folders are 0700 root;
# - `apt-get purge avpn avpn-registry` then `apt-get autoremove --purge`
#   leave the root as it was before the installs: no file, unit link, user
#   or group of avpn's (every path, type and mode compared, and the
#   contents of /etc).
# The netns demo with the package's binaries is package_demo (the host).
# Exit 77 with the reason without root, debootstrap or the .deb.
set -euo pipefail
src=${AVPN_SOURCE_DIR:?} out=${AVPN_BINARY_DIR:?}/package
cache=${AVPN_TEST_CACHE:-/var/cache/avpn-test}
[ "$(id -u)" -eq 0 ] || { echo "package_install: needs root (chroot, mounts)"; exit 77; }
deb=$(ls "$out"/avpn_*.deb 2>/dev/null | head -1) || true
registry_deb=$(ls "$out"/avpn-registry_*.deb 2>/dev/null | head -1) || true
[ -n "$deb" ] && [ -n "$registry_deb" ] ||
  { echo "package_install: no $out/avpn_*.deb and avpn-registry_*.deb: package_deb makes them (ctest -L package)"; exit 77; }
version=$(dpkg-deb -f "$deb" Version)
t0=$(date +%s)
rc=0
base=$("$src/tests/package/debian-root") || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
t1=$(date +%s)

work=$(mktemp -d /tmp/avpn-install.XXXXXX)
r=$work/root
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/upper" "$work/work" "$r" "$cache/apt-archives/partial" "$cache/apt-lists/partial"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$r"
mounts+=("$r")
# Downloads and package lists are kept between runs (apt-get update then
# fetches only what changed); apt locks them itself, flock keeps two
# concurrent runs of this test from failing on that lock.
mount --bind "$cache/apt-archives" "$r/var/cache/apt/archives"
mounts+=("$r/var/cache/apt/archives")
mount --bind "$cache/apt-lists" "$r/var/lib/apt/lists"
mounts+=("$r/var/lib/apt/lists")
mount -t proc proc "$r/proc"
mounts+=("$r/proc")
cp /etc/resolv.conf "$r/etc/resolv.conf"
# No service starts in the root (there is no systemd in it either).
printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
chmod 755 "$r/usr/sbin/policy-rc.d"
in_root() { chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# What "the root as it was" means: every path with its type and mode, and
# the checksum of every file in /etc. Left out: what apt and dpkg keep about
# themselves, logs, caches, /run (a tmpfs on a booted system: systemctl
# leaves a marker there), and this test's own scratch files.
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /tmp -o -path /run -o -path /var/cache -o -path /var/log \
    -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /etc/resolv.conf -o -path /etc/ld.so.cache \
    -o -path /usr/sbin/policy-rc.d \) -prune -o -printf '%p %y %m\n' | LC_ALL=C sort
  in_root find /etc -xdev -type f ! -name ld.so.cache ! -name resolv.conf -exec md5sum {} + | LC_ALL=C sort -k2
}
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

exec 9>"$cache/.apt-lock"
flock 9
in_root apt-get update -qq
snapshot >"$work/before"
cp "$deb" "$r/tmp/"
t2=$(date +%s)
echo "== apt-get install ./$(basename "$deb")"
if in_root apt-get install -y -q "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1; then
  ok "apt-get install resolved every dependency: $(grep -c '^Setting up' "$work/install.log") packages set up"
  grep -E '^(Setting up|The following NEW)' -A0 "$work/install.log" | sed 's/^/  /'
else
  cat "$work/install.log"
  bad "apt-get install ./$(basename "$deb") failed"
  exit 1
fi
flock -u 9
t3=$(date +%s)

echo "== the installed package"
[ ! -e "$r/usr/sbin/avpn-registry" ] && ok "avpn brings no avpn-registry" || bad "avpn installed avpn-registry"
for b in avpnctl avpnd; do
  got=$(in_root "/usr/sbin/$b" --version 2>&1) || true
  [ "$got" = "$b $version" ] && ok "$b --version: $got" || bad "$b --version printed '$got', want '$b $version'"
done
# An example site, its key files private as avpnctl requires.
cp -a "$src/examples/acme" "$r/tmp/acme"
chmod 600 "$r"/tmp/acme/keys/*
if in_root avpnctl check /tmp/acme/sites/london.toml >"$work/check.log" 2>&1; then
  ok "avpnctl check /tmp/acme/sites/london.toml"
else
  cat "$work/check.log"; bad "avpnctl check of the acme example failed"
fi
if in_root avpnctl plan --json /tmp/acme/sites/london.toml >"$work/plan.json" 2>&1 && grep -q '"site"' "$work/plan.json"; then
  ok "avpnctl plan --json: $(wc -c <"$work/plan.json") bytes"
else
  head -20 "$work/plan.json"; bad "avpnctl plan of the acme example failed"
fi
rm -rf "$r/tmp/acme" "$r/tmp/$(basename "$deb")"
link=$r/etc/systemd/system/multi-user.target.wants/avpnd.service
if [ "$(readlink "$link")" = /lib/systemd/system/avpnd.service ]; then
  ok "avpnd.service enabled: multi-user.target.wants -> /lib/systemd/system/avpnd.service"
else
  bad "avpnd.service is not enabled (no $link)"
fi
state=$(in_root systemctl is-enabled avpnd.service 2>&1) || true
[ "$state" = enabled ] && ok "systemctl is-enabled avpnd.service: enabled" || bad "systemctl is-enabled avpnd.service: '$state'"
# --man=no: the root has no man-db; the pages' presence is checked below.
if verify=$(in_root systemd-analyze verify --man=no /lib/systemd/system/avpnd.service 2>&1) && [ -z "$verify" ]; then
  ok "systemd-analyze verify avpnd.service: nothing to say"
else
  echo "$verify"; bad "systemd-analyze verify avpnd.service complains (above)"
fi
mode=$(stat -c '%a %U' "$r/etc/avpn" 2>/dev/null || echo missing)
[ "$mode" = "700 root" ] && ok "/etc/avpn: 0700 root" || bad "/etc/avpn is '$mode', want '700 root'"
for f in /usr/share/man/man8/avpnctl.8.gz /usr/share/man/man8/avpnd.8.gz /usr/share/man/man5/avpn-site.toml.5.gz \
  /usr/share/bash-completion/completions/avpnctl /usr/lib/modules-load.d/avpn.conf /usr/lib/tmpfiles.d/avpn.conf; do
  [ -s "$r$f" ] && ok "$f" || bad "$f is missing"
done
world=$(in_root find /etc/avpn /var/lib/avpn -perm -o=r 2>/dev/null || true)
[ -z "$world" ] && ok "nothing of avpn's in /etc or /var/lib is world-readable" || bad "world-readable: $world"

echo "== apt-get install ./$(basename "$registry_deb")"
cp "$registry_deb" "$r/tmp/"
flock 9
if in_root apt-get install -y -q "/tmp/$(basename "$registry_deb")" >"$work/install-registry.log" 2>&1; then
  ok "apt-get install ./$(basename "$registry_deb")"
else
  cat "$work/install-registry.log"
  bad "apt-get install ./$(basename "$registry_deb") failed"
fi
flock -u 9
rm -f "$r/tmp/$(basename "$registry_deb")"
got=$(in_root /usr/sbin/avpn-registry --version 2>&1) || true
[ "$got" = "avpn-registry $version" ] && ok "avpn-registry --version: $got" ||
  bad "avpn-registry --version printed '$got', want 'avpn-registry $version'"
state=$(in_root systemctl is-enabled avpn-registry.service 2>&1) || true
[ "$state" = enabled ] && ok "systemctl is-enabled avpn-registry.service: enabled" ||
  bad "systemctl is-enabled avpn-registry.service: '$state'"
if verify=$(in_root systemd-analyze verify --man=no /lib/systemd/system/avpn-registry.service 2>&1) && [ -z "$verify" ]; then
  ok "systemd-analyze verify avpn-registry.service: nothing to say"
else
  echo "$verify"; bad "systemd-analyze verify avpn-registry.service complains (above)"
fi
for d in /etc/avpn-registry /etc/avpn-registry/members /etc/avpn-registry/group-keys; do
  mode=$(stat -c '%a %U' "$r$d" 2>/dev/null || echo missing)
  [ "$mode" = "700 root" ] && ok "$d: 0700 root" || bad "$d is '$mode', want '700 root'"
done
world=$(in_root find /etc/avpn-registry -perm -o=r 2>/dev/null || true)
[ -z "$world" ] && ok "nothing in /etc/avpn-registry is world-readable" || bad "world-readable: $world"
[ -s "$r/usr/share/man/man8/avpn-registry.8.gz" ] && ok /usr/share/man/man8/avpn-registry.8.gz ||
  bad "/usr/share/man/man8/avpn-registry.8.gz is missing"

echo "== apt-get purge avpn avpn-registry"
flock 9
t4=$(date +%s)
in_root apt-get purge -y -q avpn avpn-registry >"$work/purge.log" 2>&1 ||
  { cat "$work/purge.log"; bad "apt-get purge avpn avpn-registry failed"; }
in_root apt-get autoremove --purge -y -q >>"$work/purge.log" 2>&1 || { cat "$work/purge.log"; bad "apt-get autoremove failed"; }
snapshot >"$work/after"
if diff -u "$work/before" "$work/after"; then
  ok "after purge and autoremove the root is as before the install (paths, modes, /etc contents)"
else
  bad "purge left the root changed (diff above: - before, + after)"
fi
state=$(in_root systemctl is-enabled avpnd.service 2>&1) || true
case $state in *enabled*) bad "after purge systemctl is-enabled avpnd.service says '$state'" ;; *) ok "after purge avpnd.service is gone: $state" ;; esac
state=$(in_root systemctl is-enabled avpn-registry.service 2>&1) || true
case $state in *enabled*) bad "after purge systemctl is-enabled avpn-registry.service says '$state'" ;; *) ok "after purge avpn-registry.service is gone: $state" ;; esac
left=$(in_root dpkg-query -W -f '${binary:Package} ${db:Status-Abbrev}\n' avpn avpn-registry 2>/dev/null || true)
[ -z "$left" ] && ok "dpkg knows no avpn" || bad "dpkg still lists: $left"
echo "package_install: root $((t1 - t0)) s, apt-get update $((t2 - t1)) s, install $((t3 - t2)) s, checks $((t4 - t3)) s, purge $(($(date +%s) - t4)) s"
exit "$fail"
