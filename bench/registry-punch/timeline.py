#!/usr/bin/env python3
"""The packet timeline of one bench/registry-punch repetition, from a
capture on every link of the internet's namespace, read as
`tcpdump -r PCAP -tt -n -x` on stdin (each datagram is seen on the way in
and on the way out of that router; only the first copy counts).

  timeline.py HQ_ADDR REG_ADDR... -- SPOKE=PUBLIC_ADDR...

For every spoke prints one line "SPOKE registered hq_registered initiation
response initiator" (times in ms since the epoch, the capture's clock):
  registered     the later of the two registries' "registered" answers to
                 the spoke (a transport message of 58 bytes from a
                 registry: docs/registry.md, 20 bytes of header, a 22-byte
                 body of kind 0x02 and its 16-byte tag; nothing else the
                 registry sends has that length), the first one of each;
  hq_registered  the same for hq;
  initiation     the first WireGuard handshake initiation (type 1) between
                 the spoke's public address and hq's, either way;
  response       the first handshake response (type 2) between them: the
                 initiator's handshake completes when it arrives;
  initiator      who sent that initiation (the spoke's name or "hq").
A missing time prints as "-".
"""
import re
import sys

REGISTERED_LEN = 58


def main():
    args = sys.argv[1:]
    cut = args.index("--")
    hq, regs = args[0], set(args[1:cut])
    spokes = dict(a.split("=", 1) for a in args[cut + 1:])
    first = {}  # event key -> time
    seen = set()
    text, cur = [], None
    for line in sys.stdin:
        if line.startswith("\t"):
            if cur is not None:
                cur[1].append("".join(line.split(":", 1)[1].split()))
        else:
            cur = [line, []]
            text.append(cur)
    for hdr, hexes in text:
        m = re.match(r"(\S+) .* IP (\S+) > (\S+): UDP, length (\d+)", hdr)
        if not m:
            continue
        ts, src, dst, length = float(m.group(1)) * 1000, m.group(2), m.group(3), int(m.group(4))
        h = "".join(hexes)
        ihl = int(h[1], 16) * 4
        payload = h[(ihl + 8) * 2:]
        key = (src, dst, length, payload[:80])
        if key in seen:  # the same datagram on the router's other link
            continue
        seen.add(key)
        s_ip, d_ip = src.rsplit(".", 1)[0], dst.rsplit(".", 1)[0]
        if s_ip in regs and length == REGISTERED_LEN and payload[8:10] == "13":
            first.setdefault(("registered", d_ip, s_ip), ts)
        elif {s_ip, d_ip} & {hq} and payload[:8] in ("01000000", "02000000"):
            other = d_ip if s_ip == hq else s_ip
            kind = "initiation" if payload[:2] == "01" else "response"
            if (kind, other) not in first:
                first[(kind, other)] = ts
                if kind == "initiation":
                    first[("initiator", other)] = "hq" if s_ip == hq else other

    def registered(addr):
        t = [first.get(("registered", addr, r)) for r in regs]
        return max(t) if all(t) else None

    def fmt(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else v)

    for name, addr in spokes.items():
        initiator = first.get(("initiator", addr))
        if initiator == addr:
            initiator = name
        print(name, *(fmt(v) for v in (registered(addr), registered(hq), first.get(("initiation", addr)),
                                        first.get(("response", addr)), initiator)))


if __name__ == "__main__":
    main()
