#!/usr/bin/env python3
"""The member list of bench/daemon-probing/run: two hubs and N spokes.

  members.py OUT SPOKES HUB1_PUBLIC_KEY HQ_PUBLIC_KEY AVPNCTL

hub1 (the hub under test) and hq (its fellow hub, the probe target) with
static contacts; spokes s00001.. with four /24 exports each (from
10.16.0.0, clear of the topology's LANs 10.0.x and 10.1.x), hubs =
["hub1"] and no contact (a hub rarely knows its spokes' addresses, and a
peer without an endpoint makes wireguard-go send nothing). Spoke keys are
real X25519 public keys, made by the `cryptography` package (OpenSSL):
10,000 in well under a second, where `avpnctl genkey | avpnctl pubkey`
would start 20,000 processes (the way taken, slowly, when the package is
missing).
"""
import base64
import subprocess
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:
    X25519PrivateKey = None

EXPORTS_PER_SPOKE = 4
FIRST_EXPORT = (10 << 24) | (16 << 16)  # 10.16.0.0


def public_key(avpnctl):
    if X25519PrivateKey is None:
        private = subprocess.run([avpnctl, "genkey"], capture_output=True, check=True).stdout
        return subprocess.run([avpnctl, "pubkey"], input=private, capture_output=True, check=True).stdout.decode().strip()
    raw = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def prefix(n):
    a = FIRST_EXPORT + (n << 8)
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.0/24"


def main():
    out, spokes, hub1, hq, avpnctl = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    if X25519PrivateKey is None:
        print(f"   (python3 has no cryptography package: {spokes} keys from avpnctl, slowly)", flush=True)
    if spokes * EXPORTS_PER_SPOKE > (256 - 16) * 256:
        sys.exit(f"members.py: {spokes} spokes do not fit 10.16.0.0-10.255.255.255")
    lines = [
        "# bench/daemon-probing: generated, throwaway keys.",
        "[group]",
        'name = "bench"',
        'tunnel_subnet = "100.64.0.0/16"',
        'transport = "wireguard"',
        "",
        "[[member]]",
        'name = "hub1"',
        'role = "hub"',
        f'public_key = "{hub1}"',
        'exports = ["10.1.1.0/24"]',
        'contact = "203.0.113.2:51820"',
        "",
        "[[member]]",
        'name = "hq"',
        'role = "hub"',
        f'public_key = "{hq}"',
        'exports = ["10.0.1.0/24"]',
        'contact = "192.0.2.1:51820"',
    ]
    for i in range(spokes):
        exports = ", ".join(f'"{prefix(i * EXPORTS_PER_SPOKE + k)}"' for k in range(EXPORTS_PER_SPOKE))
        lines += [
            "",
            "[[member]]",
            f'name = "s{i + 1:05d}"',
            'role = "spoke"',
            f'public_key = "{public_key(avpnctl)}"',
            f"exports = [{exports}]",
            'hubs = ["hub1"]',
        ]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
