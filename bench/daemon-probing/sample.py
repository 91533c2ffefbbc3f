#!/usr/bin/env python3
"""The window of bench/daemon-probing/run: samples the on-CPU time of
avpnd's and wireguard-go's threads (/proc/PID/task/*/schedstat, ns) every
PERIOD_MS for WINDOW_S seconds and splits avpnd's into its WireGuard polls
and the rest.

  sample.py WINDOW_S PERIOD_MS AVPND_PID WIREGUARD_GO_PID

avpnd reads its WireGuard devices back (and, with metrics, the firewall
counters) at most every 2 s, and at least 20 times as long as the last
read took (orchestrator/daemon/daemon.cpp, kPollCostFactor): at 10,000
peers a burst of a few hundred ms of CPU every tens of seconds, so how
many fall in a window moves its average. A burst is a run of samples in
which wireguard-go (which formats every peer for the read) or avpnd used
more than BUSY of a core, merged with the next when they are less than
GAP_S apart (avpnd waits for wireguard-go's answer, then parses it).
The probes alone (a round every 0.8 s) stay far below.

Prints KEY=VALUE lines: wall_s, avpnd_ns, wg_ns, threads_changed (0/1: a
thread of avpnd came or went, its time may be missed), bursts (count),
burst_avpnd_ns (their avpnd time, summed), burst_wg_ns, burst_wall_ms
(summed), burst_starts_s (comma-separated, from the window's start),
spacing_s (mean time between burst starts, or empty), quiet_avpnd_ns
(avpnd's time outside the bursts).
"""
import glob
import os
import sys
import time

BUSY = 0.05  # of one core, over one sample
GAP_S = 1.5


def on_cpu_ns(pid):
    total, tids = 0, []
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
            tids.append(path)
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended while we looked
    return total, frozenset(tids)


def main():
    window_s, period = float(sys.argv[1]), float(sys.argv[2]) / 1000
    avpnd, wg = int(sys.argv[3]), int(sys.argv[4])
    t0 = time.monotonic()
    a0, tids0 = on_cpu_ns(avpnd)
    w0, _ = on_cpu_ns(wg)
    samples = []  # (t from start, avpnd delta ns, wg delta ns, dt)
    last_t, last_a, last_w = t0, a0, w0
    changed = False
    while True:
        now = time.monotonic()
        if now - t0 >= window_s:
            break
        time.sleep(min(period, window_s - (now - t0)))
        t = time.monotonic()
        a, tids = on_cpu_ns(avpnd)
        w, _ = on_cpu_ns(wg)
        if not tids:
            sys.exit(f"sample.py: avpnd (pid {avpnd}) is gone")
        changed |= tids != tids0
        samples.append((last_t - t0, a - last_a, w - last_w, t - last_t))
        last_t, last_a, last_w = t, a, w
    wall = last_t - t0

    bursts = []  # [start_s, end_s, avpnd_ns, wg_ns]
    for start, da, dw, dt in samples:
        if max(da, dw) <= BUSY * dt * 1e9:
            continue
        if bursts and start - bursts[-1][1] < GAP_S:
            b = bursts[-1]
            b[1], b[2], b[3] = start + dt, b[2] + da, b[3] + dw
        else:
            bursts.append([start, start + dt, da, dw])
    starts = [b[0] for b in bursts]
    spacing = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else None
    burst_a = sum(b[2] for b in bursts)
    print(f"wall_s={wall:.3f}")
    print(f"avpnd_ns={last_a - a0}")
    print(f"wg_ns={last_w - w0}")
    print(f"threads_changed={int(changed)}")
    print(f"bursts={len(bursts)}")
    print(f"burst_avpnd_ns={burst_a}")
    print(f"burst_wg_ns={sum(b[3] for b in bursts)}")
    print(f"burst_wall_ms={sum(b[1] - b[0] for b in bursts) * 1000:.0f}")
    print("burst_starts_s=" + ",".join(f"{s:.1f}" for s in starts))
    print("spacing_s=" + ("" if spacing is None else f"{spacing:.1f}"))
    print(f"quiet_avpnd_ns={last_a - a0 - burst_a}")


if __name__ == "__main__":
    main()
