#!/usr/bin/python3
"""An independent DSSE v1 verifier for airheal's envelopes: python3-cryptography (and, where
installed, python3-securesystemslib's SSlibKey) check an ECDSA P-256 signature over the
pre-authentication encoding with nothing but the PEM public key, as cosign and in-toto do.

    dsse_verify.py KEY.pem ENVELOPE.json [ENVELOPE.json ...]

Prints one line per envelope ("OK <payloadType> keyid=<id>" or "BAD <why>") and exits 0 only when
every envelope has at least one signature that verifies with the key.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def main() -> int:
    pem = open(sys.argv[1], "rb").read()
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        print("BAD the key is not an ECDSA P-256 key")
        return 1
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = hashlib.sha256(der).hexdigest()
    sslib = None
    try:
        from securesystemslib.signer import Signature, SSlibKey
        sslib = SSlibKey(key_id, "ecdsa", "ecdsa-sha2-nistp256", {"public": pem.decode()})
    except ImportError:
        pass
    failed = 0
    for path in sys.argv[2:]:
        env = json.load(open(path))
        body = pae(env["payloadType"].encode(), base64.b64decode(env["payload"], validate=True))
        good = None
        for s in env["signatures"]:
            sig = base64.b64decode(s["sig"], validate=True)
            try:
                key.verify(sig, body, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            if sslib is not None:  # a second, separate verifier agrees
                sslib.verify_signature(Signature(key_id, sig.hex()), body)
            good = s.get("keyid", "")
            break
        if good is None:
            print("BAD %s: no signature verifies with %s" % (path, sys.argv[1]))
            failed += 1
        else:
            print("OK %s keyid=%s%s" % (env["payloadType"], good,
                                       " (securesystemslib agrees)" if sslib else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
