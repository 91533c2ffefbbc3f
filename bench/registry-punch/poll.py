#!/usr/bin/env python3
"""The pollers of bench/registry-punch/run: one per site and kind, each
polling every ~20 ms until what it waits for holds, then writing KEY=VALUE
lines (times in ms since the epoch, CLOCK_REALTIME, as bash's EPOCHREALTIME
and wireguard-go's handshake times) to OUT and exiting 0; 1 after the
deadline.

Each creates OUT.ready after its first poll.

  poll.py status OUT DEADLINE_S AVPNCTL_ARGV...
      `avpnctl status --json` through the site's avpnd until every registry
      of group corp is reachable and has observed the site (a non-empty
      `observed`): registered= (the poll that saw it), registered_one= (the
      poll that saw the first one); polls= and status_ms= (the mean time of
      one status call).
  poll.py wg OUT DEADLINE_S UAPI_SOCKET PEER_PUBLIC_KEY_BASE64
      wireguard-go's UAPI (what `wg show` reads) until the peer has a
      latest handshake: handshake= (the poll that saw it), handshake_own=
      (the handshake time wireguard-go keeps, to the nanosecond), endpoint=
      (the first poll that saw the peer with an endpoint).
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time

PERIOD = 0.020


def now_ms():
    return time.time_ns() / 1e6


def write(out, **kv):
    with open(out, "w") as f:
        for k, v in kv.items():
            if v is not None:
                f.write(f"{k}={v:.3f}\n" if isinstance(v, float) else f"{k}={v}\n")


def pace(started, out):
    if not os.path.exists(out + ".ready"):  # the first poll is done: the bench starts avpnd
        open(out + ".ready", "w").close()
    time.sleep(max(0.005, PERIOD - (time.monotonic() - started)))


def poll_status(out, deadline, argv):
    first_one = None
    polls, spent = 0, 0.0
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, timeout=5)
            st = json.loads(r.stdout) if r.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            st = None
        t = now_ms()
        polls += 1
        spent += time.monotonic() - started
        regs = [x for x in ((st or {}).get("avpnd") or {}).get("registries") or [] if x.get("group") == "corp"]
        ok = [x for x in regs if x.get("reachable") is True and x.get("observed")]
        if ok and first_one is None:
            first_one = t
        if len(regs) >= 2 and len(ok) == len(regs):
            write(out, registered=t, registered_one=first_one, polls=polls, status_ms=spent / polls * 1000)
            return 0
        pace(started, out)
    write(out, timeout=1, registered_one=first_one, polls=polls)
    return 1


def uapi_peers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(b"get=1\n\n")
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    peers, cur = {}, None
    for line in data.decode().splitlines():
        k, _, v = line.partition("=")
        if k == "public_key":
            cur = peers.setdefault(v, {})
        elif cur is not None:
            cur[k] = v
    return peers


def poll_wg(out, deadline, path, peer_b64):
    peer = base64.b64decode(peer_b64).hex()
    endpoint = None
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            p = uapi_peers(path).get(peer)
        except OSError:  # no device yet
            p = None
        t = now_ms()
        if p:
            if p.get("endpoint") and endpoint is None:
                endpoint = t
            sec = int(p.get("last_handshake_time_sec", "0"))
            if sec:
                own = sec * 1000 + int(p.get("last_handshake_time_nsec", "0")) / 1e6
                write(out, handshake=t, handshake_own=own, endpoint=endpoint)
                return 0
        pace(started, out)
    write(out, timeout=1, endpoint=endpoint)
    return 1


def main():
    kind, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + limit
    if kind == "status":
        return poll_status(out, deadline, sys.argv[4:])
    if kind == "wg":
        return poll_wg(out, deadline, sys.argv[4], sys.argv[5])
    sys.exit(f"poll.py: unknown kind {kind}")


if __name__ == "__main__":
    sys.exit(main())
