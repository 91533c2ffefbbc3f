#!/usr/bin/env python3
"""Parallel UDP flows for the active-active test (tests/netns/uplink_active_active.sh).

  udp_flows.py serve ADDR PORT          echo every datagram back (until killed)
  udp_flows.py send SRC DST PORT N SECONDS OUT
      N flows, one socket each on SRC with its own port, each sending a
      datagram every 20 ms to DST:PORT for SECONDS; OUT gets JSON: per flow
      (by source port) datagrams sent and answered, and the longest time
      between two answers (ms), counted from the first answer on.
"""
import json
import select
import socket
import sys
import time


def serve(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def send(src, dst, port, n, seconds, out):
    flows = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        flows.append({"sock": s, "port": s.getsockname()[1], "sent": 0, "answered": 0, "last": None, "gap": 0.0})
    by_fd = {f["sock"].fileno(): f for f in flows}
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_send:
            for f in flows:
                try:
                    f["sock"].sendto(b"x" * 64, (dst, port))
                    f["sent"] += 1
                except OSError:
                    pass
            next_send += 0.02
        ready, _, _ = select.select(list(by_fd), [], [], max(0.0, min(next_send, end) - time.monotonic()))
        for fd in ready:
            f = by_fd[fd]
            while True:
                try:
                    f["sock"].recv(2048)
                except (BlockingIOError, OSError):
                    break
                t = time.monotonic()
                if f["last"] is not None:
                    f["gap"] = max(f["gap"], t - f["last"])
                f["last"] = t
                f["answered"] += 1
    result = {str(f["port"]): {"sent": f["sent"], "answered": f["answered"], "gap_ms": int(f["gap"] * 1000)} for f in flows}
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7])
