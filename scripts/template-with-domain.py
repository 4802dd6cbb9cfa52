#!/usr/bin/env python3
"""Write template.yaml as a shop on its own domain would deploy it, for the linter.

`sam validate --lint` checks a template with its parameters' defaults, so the custom
domain's resources (which exist only with `DomainName`) would go unchecked. This writes a
copy whose `DomainName`, `CertificateArn` (a placeholder ARN), `HostedZoneId` and
`MailDomain` defaults are set, so `make lint` validates that shape too.

    python3 scripts/template-with-domain.py OUT.yaml
"""
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
text = (root / "template.yaml").read_text()
for name, value in [
    ("DomainName", "books.example.org"),
    ("CertificateArn", "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"),
    ("HostedZoneId", "Z0123456789ABCDEFGHIJ"),
    ("MailDomain", "example.org"),
]:
    block = f"  {name}:\n    Type: String\n    Default: \"\"\n"
    if text.count(block) != 1:
        sys.exit(f"template.yaml: parameter {name} is not declared as expected")
    text = text.replace(block, f"  {name}:\n    Type: String\n    Default: \"{value}\"\n")
out = pathlib.Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(text)
