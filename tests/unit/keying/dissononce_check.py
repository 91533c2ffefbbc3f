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
import subprocess
import sys

try:
    from dissononce.processing.impl.handshakestate import HandshakeState
    from dissononce.processing.impl.symmetricstate import SymmetricState
    from dissononce.processing.impl.cipherstate import CipherState
    from dissononce.processing.handshakepatterns.interactive.IK import IKHandshakePattern
    from dissononce.processing.modifiers.psk import PSKPatternModifier
    from dissononce.cipher.chachapoly import ChaChaPolyCipher
    from dissononce.dh.x25519.x25519 import X25519DH
    from dissononce.dh.x25519.private import PrivateKey
    from dissononce.hash.blake2s import Blake2sHash
    from dissononce.extras.dh.dangerous.dh_nogen import NoGenDH
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
except ImportError as e:
    print("skip: python3-dissononce is not installed for /usr/bin/python3 (%s)" % e)
    sys.exit(77)

failures = []


def same(name, ours, theirs):
    if ours != theirs:
        failures.append(name)
        print("DIFFERENT %s\n  avpn:       %s\n  dissononce: %s" % (name, ours.hex(), theirs.hex()))
    else:
        print("same %s (%d bytes)" % (name, len(ours)))


def handshake_state(ephemeral):
    return HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), Blake2sHash()),
                          NoGenDH(X25519DH(), PrivateKey(ephemeral)))


def noise_hkdf(ck, ikm, n):  # Noise rev 34 section 4.3, with Python's HMAC
    temp = hmac.new(ck, ikm, hashlib.blake2s).digest()
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(temp, prev + bytes([i]), hashlib.blake2s).digest()
        out.append(prev)
    return out


def main():
    args = sys.argv[1:]
    flip = None
    if len(args) == 3 and args[0] == "--expect-difference":
        flip, args = args[1], args[2:]
    if len(args) != 1:
        print("usage: dissononce_check.py [--expect-difference NAME] PRINT_VECTORS_BINARY")
        return 2
    text = subprocess.run([args[0]], check=True, capture_output=True, text=True).stdout
    v = {k: bytes.fromhex(h) for k, h in (l.split() for l in text.splitlines())}
    if flip:
        v[flip] = bytes([v[flip][0] ^ 1]) + v[flip][1:]
        try:
            rc = compare(v)
        except Exception as e:  # dissononce refusing avpn's bytes is a difference too
            print("dissononce refused a flipped %s: %r" % (flip, e))
            rc = 1
        print("expected a difference in %s: %s" % (flip, "caught" if rc else "NOT caught"))
        return 0 if rc else 1
    return compare(v)


def compare(v):

    dh = X25519DH()
    i_static = dh.generate_keypair(PrivateKey(v["initiator_static"]))
    r_static = dh.generate_keypair(PrivateKey(v["responder_static"]))
    pattern = PSKPatternModifier(2).modify(IKHandshakePattern())
    print("pattern", pattern.name)

    initiator = handshake_state(v["initiator_ephemeral"])
    initiator.initialize(pattern, True, v["prologue"], s=i_static, rs=r_static.public, psks=[v["psk"]])
    responder = handshake_state(v["responder_ephemeral"])
    responder.initialize(pattern, False, v["prologue"], s=r_static, psks=[v["psk"]])

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
    def mac(key, data):
        return hashlib.blake2s(data, key=key, digest_size=16).digest()
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

    if failures:
        print("FAIL: %d difference(s): %s" % (len(failures), ", ".join(failures)))
        return 1
    print("OK: avpn and dissononce agree byte for byte")
    return 0


sys.exit(main())
