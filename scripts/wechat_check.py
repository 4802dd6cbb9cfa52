#!/usr/bin/env python3
"""Check requests Kiosk signed for WeChat Pay with wechatpayv3, WeChat Pay's own Python
library (tests call this; see shared/tests/wechat_vectors.rs).

Reads JSON from stdin: {"public_key": PEM, "private_key": PEM, "requests": [{"method",
"path", "body", "authorization"}]}. For each request: the library's verifier accepts the
signature in the Authorization header over METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n with
the merchant's public key, and the library's own build_authorization, given the same
timestamp and nonce, writes the same header. Prints one line per request; exits 1 at
the first that fails.
"""
import json
import re
import sys
from unittest import mock

from wechatpayv3 import utils


def fields(header):
    scheme, _, rest = header.partition(" ")
    if scheme != "WECHATPAY2-SHA256-RSA2048":
        raise ValueError("scheme " + scheme)
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


def main():
    job = json.load(sys.stdin)
    public_key = utils.load_public_key(job["public_key"])
    private_key = utils.load_private_key(job["private_key"])
    for r in job["requests"]:
        f = fields(r["authorization"])
        # rsa_verify signs "{timestamp}\n{nonce}\n{body}\n": a request's string is the
        # same with METHOD\nPATH\n in front of the timestamp.
        ok = utils.rsa_verify(
            "%s\n%s\n%s" % (r["method"], r["path"], f["timestamp"]),
            f["nonce_str"],
            r["body"],
            f["signature"],
            public_key,
        )
        with mock.patch.object(utils.time, "time", return_value=int(f["timestamp"])):
            theirs = utils.build_authorization(
                r["path"], r["method"], f["mchid"], f["serial_no"], private_key,
                data=r["body"] or None, nonce_str=f["nonce_str"],
            )
        same = theirs == r["authorization"]
        print("%s %s verifies=%s same_header=%s" % (r["method"], r["path"], ok, same))
        if not (ok and same):
            sys.exit(1)


if __name__ == "__main__":
    main()
