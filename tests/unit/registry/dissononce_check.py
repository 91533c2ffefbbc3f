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


def open_transport(key, dgram):
    counter = int.from_bytes(dgram[12:20], "big")
    nonce = bytes(4) + counter.to_bytes(8, "little")
    return ChaCha20Poly1305(key).decrypt(nonce, dgram[20:], dgram[:20])


def compare(v):
    dh = X25519DH()
    i_static = dh.generate_keypair(PrivateKey(v["initiator_static"]))
    r_static = dh.generate_keypair(PrivateKey(v["responder_static"]))
    pattern = PSKPatternModifier(2).modify(IKHandshakePattern())
    initiator = handshake_state(v["initiator_ephemeral"])
    initiator.initialize(pattern, True, v["prologue"], s=i_static, rs=r_static.public, psks=[v["psk"]])
    responder = handshake_state(v["responder_ephemeral"])
    responder.initialize(pattern, False, v["prologue"], s=r_static, psks=[v["psk"]])

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

    def mac(key, data):
        return hashlib.blake2s(data, key=key, digest_size=16).digest()
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
    if failures:
        print("FAIL: %d difference(s): %s" % (len(failures), ", ".join(failures)))
        return 1
    print("OK: avpn's registry handshake and dissononce agree byte for byte")
    return 0


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
        # the byte after the header and index, so the Noise part or the sealed body changes
        at = 20 if flip in ("registration", "registered") else 16
        v[flip] = v[flip][:at] + bytes([v[flip][at] ^ 1]) + v[flip][at + 1:]
        try:
            rc = compare(v)
        except Exception as e:
            print("dissononce refused a flipped %s: %r" % (flip, e))
            rc = 1
        print("expected a difference in %s: %s" % (flip, "caught" if rc else "NOT caught"))
        return 0 if rc else 1
    return compare(v)


sys.exit(main())
