#!/usr/bin/python3
"""The independence proof of avpn's keying (issue 13): runs avpn's vector
tool (argv[1]), then recomputes, from the same prologue, static and
ephemeral keys, psk and payloads, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with
dissononce (Debian's python3-dissononce, a separate Noise implementation)
and compares message 1, message 2 and both split keys byte for byte. The
WireGuard-style fields around them (mac1, the ESP keys, the key confirm) are
recomputed with Python's hashlib/hmac and the cryptography package.
Exit 0: identical; 1: a difference (printed); 77: dissononce missing.
With --expect-difference NAME it flips a bit of avpn's vector NAME first
and exits 0 only if that is caught: the check itself is tested."""
import hashlib
import hmac
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "noise"))
from dissononce_common import (ChaCha20Poly1305, failures, ikpsk2_pair, mac, main,  # noqa: E402
                               same, verdict)


def noise_hkdf(ck, ikm, n):  # Noise rev 34 section 4.3, with Python's HMAC
    temp = hmac.new(ck, ikm, hashlib.blake2s).digest()
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(temp, prev + bytes([i]), hashlib.blake2s).digest()
        out.append(prev)
    return out


def compare(v):
    i_static, r_static, initiator, responder = ikpsk2_pair(v)

    msg1 = bytearray()
    initiator.write_message(v["payload1"], msg1)
    same("message 1 (Noise part of the initiation)", v["noise1"], bytes(msg1))
    read1 = bytearray()
    responder.read_message(v["noise1"], read1)  # avpn's bytes, decrypted by dissononce
    same("message 1 payload as dissononce decrypts avpn's", v["payload1"], bytes(read1))
    same("initiator static as the responder learns it", i_static.public.data, responder.rs.data)

    msg2 = bytearray()
    r_split = responder.write_message(v["payload2"], msg2)
    same("message 2 (Noise part of the response)", v["noise2"], bytes(msg2))
    read2 = bytearray()
    i_split = initiator.read_message(v["noise2"], read2)
    same("message 2 payload as dissononce decrypts avpn's", v["payload2"], bytes(read2))

    for name, (i_cs, r_cs) in (("split initiator->responder", (i_split[0], r_split[0])),
                               ("split responder->initiator", (i_split[1], r_split[1]))):
        key = name.replace("split ", "split_").replace("->", "_to_")
        same(name + " (initiator)", v[key], i_cs._key)
        same(name + " (responder)", v["responder_" + key], r_cs._key)

    # WireGuard-style fields, from hashlib and cryptography.
    for name, dgram, receiver in (("initiation", v["initiation"], r_static.public.data),
                                  ("response", v["response"], i_static.public.data)):
        key = hashlib.blake2s(b"mac1----" + receiver).digest()
        same(name + " mac1", dgram[-32:-16], mac(key, dgram[:-32]))
        same(name + " mac2 (no cookie: zero)", dgram[-16:], bytes(16))

    def esp(transport, spi):
        o = noise_hkdf(transport, b"avpn esp" + spi, 2)
        return (o[0] + o[1])[:20]
    i2r, r2i = i_split[0]._key, i_split[1]._key
    same("ESP key initiator->responder", v["esp_initiator_to_responder"], esp(i2r, v["spi_responder_inbound"]))
    same("ESP key responder->initiator", v["esp_responder_to_initiator"], esp(r2i, v["spi_initiator_inbound"]))
    same("ESP key initiator->responder (responder)", v["responder_esp_initiator_to_responder"],
         v["esp_initiator_to_responder"])
    same("ESP key responder->initiator (responder)", v["responder_esp_responder_to_initiator"],
         v["esp_responder_to_initiator"])

    confirm = v["confirm"]
    counter = int.from_bytes(confirm[12:20], "big")
    nonce = bytes(4) + counter.to_bytes(8, "little")
    same("key confirm tag", confirm[20:], ChaCha20Poly1305(i2r).encrypt(nonce, b"", confirm[:20]))

    return verdict("avpn")


sys.exit(main(compare, lambda name: 0))
