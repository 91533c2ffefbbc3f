#!/usr/bin/python3
# pcap-send.py PCAP IFACE: sends every frame of PCAP (classic libpcap,
# Ethernet link type, as tcpdump -w writes it) out of IFACE through an
# AF_PACKET socket: a replay from the wire, as an attacker there could do
# it. Prints how many frames it sent. The one change: an IPv4 UDP
# checksum is computed again. A frame captured as it left its sender
# carries a partial one (checksum offload on veth), which the receiver's
# UDP would drop before the test's target ever saw the datagram.
import socket
import struct
import sys

path, iface = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    order = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    order = ">"
else:
    sys.exit(f"{path}: not a pcap file")
linktype = struct.unpack(order + "I", data[20:24])[0]
if linktype != 1:
    sys.exit(f"{path}: link type {linktype}, not Ethernet")


def fix_udp_checksum(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return frame
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    udp = bytearray(frame[14 + ihl:14 + total])
    if struct.unpack("!H", udp[6:8])[0] == 0:
        return frame  # no checksum (ESP-in-UDP's usual): nothing to fix
    udp[6:8] = b"\0\0"
    data = frame[26:34] + b"\0\x11" + struct.pack("!H", len(udp)) + bytes(udp)
    if len(data) % 2:
        data += b"\0"
    sum_ = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while sum_ >> 16:
        sum_ = (sum_ & 0xFFFF) + (sum_ >> 16)
    udp[6:8] = struct.pack("!H", (~sum_ & 0xFFFF) or 0xFFFF)
    return frame[:14 + ihl] + bytes(udp) + frame[14 + total:]


s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
offset, sent = 24, 0
while offset + 16 <= len(data):
    caplen, origlen = struct.unpack(order + "II", data[offset + 8:offset + 16])
    frame = data[offset + 16:offset + 16 + caplen]
    if caplen != origlen:
        sys.exit(f"{path}: frame {sent + 1} was cut at capture ({caplen} of {origlen} bytes)")
    s.send(fix_udp_checksum(frame))
    sent += 1
    offset += 16 + caplen
print(sent)
