"""What the two independence checks (keying/ and registry/dissononce_check.py)
share: dissononce's Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s set up with the
vector's fixed ephemerals, the byte comparison that records differences, and
the command line (the vector tool, and --expect-difference NAME, which flips
a bit of one of avpn's vectors and succeeds only if the check catches it)."""
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


def ikpsk2_pair(v):
    """Initiator and responder as the vector's keys, prologue and psk make them."""
    dh = X25519DH()
    i_static = dh.generate_keypair(PrivateKey(v["initiator_static"]))
    r_static = dh.generate_keypair(PrivateKey(v["responder_static"]))
    pattern = PSKPatternModifier(2).modify(IKHandshakePattern())
    print("pattern", pattern.name)
    initiator = handshake_state(v["initiator_ephemeral"])
    initiator.initialize(pattern, True, v["prologue"], s=i_static, rs=r_static.public, psks=[v["psk"]])
    responder = handshake_state(v["responder_ephemeral"])
    responder.initialize(pattern, False, v["prologue"], s=r_static, psks=[v["psk"]])
    return i_static, r_static, initiator, responder


def main(compare, flip_at):
    """compare(vectors) -> exit code; flip_at(name) -> which byte to flip."""
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
        at = flip_at(flip)
        v[flip] = v[flip][:at] + bytes([v[flip][at] ^ 1]) + v[flip][at + 1:]
        try:
            rc = compare(v)
        except Exception as e:  # dissononce refusing avpn's bytes is a difference too
            print("dissononce refused a flipped %s: %r" % (flip, e))
            rc = 1
        print("expected a difference in %s: %s" % (flip, "caught" if rc else "NOT caught"))
        return 0 if rc else 1
    return compare(v)


def mac(key, data):
    """WireGuard's MAC: keyed BLAKE2s with a 16-byte output."""
    import hashlib
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def verdict(what):
    if failures:
        print("FAIL: %d difference(s): %s" % (len(failures), ", ".join(failures)))
        return 1
    print("OK: %s and dissononce agree byte for byte" % what)
    return 0
