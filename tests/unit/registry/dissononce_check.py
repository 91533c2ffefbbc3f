#!/usr/bin/python3
"""The registry's handshake checked by an independent Noise implementation:
runs the registry's vector tool (argv[1]), recomputes
Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with python3-dissononce from the same
prologue ("avpn registry v1"), static and ephemeral keys, group key (the
PSK, mixed in by the registry after message 1) and payload, compares both
Noise messages byte for byte, and opens the first transport message each way
with the split keys dissononce derives (ChaCha20-Poly1305 from the
cryptography package; AD = the 20-byte header, index and counter). mac1 is
recomputed with hashlib. Exit 0: identical; 1: a difference; 77: dissononce
missing. With --expect-difference NAME, flips a bit of avpn's vector NAME
first and exits 0 only if that is caught."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "noise"))
from dissononce_common import (ChaCha20Poly1305, failures, ikpsk2_pair, mac, main,  # noqa: E402
                               same, verdict)


def open_transport(key, dgram):
    counter = int.from_bytes(dgram[12:20], "big")
    nonce = bytes(4) + counter.to_bytes(8, "little")
    return ChaCha20Poly1305(key).decrypt(nonce, dgram[20:], dgram[:20])


def compare(v):
    i_static, r_static, initiator, responder = ikpsk2_pair(v)

    init, resp = v["initiation"], v["response"]
    msg1 = bytearray()
    initiator.write_message(v["payload1"], msg1)
    same("message 1 (initiation bytes 12-183)", init[12:-32], bytes(msg1))
    read1 = bytearray()
    responder.read_message(init[12:-32], read1)
    same("payload 1 as dissononce decrypts avpn's", v["payload1"], bytes(read1))
    msg2 = bytearray()
    r_split = responder.write_message(b"", msg2)
    same("message 2 (response bytes 16-63)", resp[16:-32], bytes(msg2))
    i_split = initiator.read_message(resp[16:-32], bytearray())
    same("split keys agree in dissononce", i_split[0]._key + i_split[1]._key, r_split[0]._key + r_split[1]._key)

    for name, dgram, receiver in (("initiation", init, r_static.public.data), ("response", resp, i_static.public.data)):
        same(name + " mac1", dgram[-32:-16], mac(hashlib.blake2s(b"mac1----" + receiver).digest(), dgram[:-32]))

    try:
        same("registration opened with split key 1", v["registration_body"], open_transport(i_split[0]._key, v["registration"]))
    except Exception as e:
        failures.append("registration does not open: %r" % e)
    try:
        same("registered opened with split key 2", v["registered_body"], open_transport(i_split[1]._key, v["registered"]))
    except Exception as e:
        failures.append("registered does not open: %r" % e)
    return verdict("avpn's registry handshake")


# The byte after the header and index, so the Noise part or the sealed body changes.
sys.exit(main(compare, lambda name: 20 if name in ("registration", "registered") else 16))
