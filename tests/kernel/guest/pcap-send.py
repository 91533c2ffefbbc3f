#!/usr/bin/python3
# pcap-send.py PCAP IFACE: sends every frame of PCAP (classic libpcap,
# Ethernet link type, as tcpdump -w writes it) unchanged out of IFACE
# through an AF_PACKET socket: a replay from the wire, as an attacker
# there could do it. Prints how many frames it sent.
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
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
offset, sent = 24, 0
while offset + 16 <= len(data):
    caplen, origlen = struct.unpack(order + "II", data[offset + 8:offset + 16])
    frame = data[offset + 16:offset + 16 + caplen]
    if caplen != origlen:
        sys.exit(f"{path}: frame {sent + 1} was cut at capture ({caplen} of {origlen} bytes)")
    s.send(frame)
    sent += 1
    offset += 16 + caplen
print(sent)
