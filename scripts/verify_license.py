#!/usr/bin/env python3
"""An independent check of Kiosk's signed licenses and revocation lists, written from
docs/license-format.md alone with Python's `cryptography` package (in the project venv):
the end-to-end test runs it on what the shop issued.

    verify_license.py PUBLIC_KEY LICENSE            -> prints the payload, exit 0
    verify_license.py PUBLIC_KEY LIST --revocations -> prints the payload, exit 0
    verify_license.py PUBLIC_KEY LICENSE --email ADDRESS  also checks the address

Exit 1 (and a reason on stderr) for anything that does not verify.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def b64url(text):
    if "=" in text:
        raise ValueError("padding is not allowed")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Canonical only: encoding again must give the same text.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != text:
        raise ValueError("not canonical base64url")
    return raw


def verify(public_b64, text, prefix):
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise ValueError("expected %s.PAYLOAD.SIGNATURE" % prefix)
    payload, signature = b64url(parts[1]), b64url(parts[2])
    key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"))
    body = json.loads(payload.decode("utf-8"))
    if body.get("v") != 1:
        raise ValueError("unknown version")
    return body


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    public, text = argv[1], argv[2]
    try:
        if "--revocations" in argv:
            body = verify(public, text, "KR1")
            if set(body) != {"v", "issued", "orders"}:
                raise ValueError("unexpected fields")
        else:
            body = verify(public, text, "KL1")
            fields = {"v", "product", "order", "edition", "seats", "issued", "email_sha256"}
            if set(body) != fields:
                raise ValueError("unexpected fields")
            if "--email" in argv:
                email = argv[argv.index("--email") + 1].strip()
                lowered = "".join(c.lower() if "A" <= c <= "Z" else c for c in email)
                digest = hashlib.sha256((body["order"] + ":" + lowered).encode("utf-8"))
                if digest.hexdigest() != body["email_sha256"]:
                    raise ValueError("issued to another address")
    except (ValueError, InvalidSignature, UnicodeDecodeError) as e:
        print("refused: %s" % (e or "bad signature"), file=sys.stderr)
        return 1
    print(json.dumps(body, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
