#!/usr/bin/env bash
# `make package`: the deploy artifacts, exactly as `sam deploy` will upload them.
#
# Runs `sam build --beta-features` (the rust-cargolambda builder is a SAM beta feature)
# from the project-local .venv-sam, which also holds cargo-lambda and the zig it
# cross-compiles with: an author needs Rust and Python, nothing installed by hand. The
# functions are built in source with the release profile for aarch64, sharing one target
# dir, so the dependency tree is compiled once for all of them.
#
# Then every function in the template must have its artifact, and each must be an
# aarch64 ELF executable: the script prints the type and the size zipped as SAM zips it,
# and fails naming any function that is missing or built for the wrong machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/venv.sh sam
export PATH="$root/.venv-sam/bin:$PATH" SAM_CLI_TELEMETRY=0

# The aarch64 standard library: cargo-lambda cross-compiles against it (zig links).
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

start=$(date +%s)
sam build --beta-features --build-in-source --template template.yaml
took=$(($(date +%s) - start))

.venv-sam/bin/python - template.yaml .aws-sam/build <<'EOF'
import io, os, sys, zipfile
from samcli.yamlhelper import yaml_parse

template, build = sys.argv[1], sys.argv[2]
with open(template) as f:
    resources = yaml_parse(f.read())["Resources"]
functions = sorted(k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function")
bad = []
print(f"{'function':<24} {'file type':<44} {'bootstrap':>10} {'zipped':>10}")
for name in functions:
    path = os.path.join(build, name, "bootstrap")
    if not os.path.isfile(path):
        bad.append(f"{name}: no {path}")
        continue
    with open(path, "rb") as f:
        data = f.read()
    # ELF header: magic, class (2 = 64-bit), data (1 = little endian), then e_type at
    # 16 (2 = executable, 3 = position-independent executable) and e_machine at 18
    # (183 = AArch64).
    is_elf = data[:4] == b"\x7fELF"
    machine = int.from_bytes(data[18:20], "little") if is_elf else None
    e_type = int.from_bytes(data[16:18], "little") if is_elf else None
    kind = ("ELF 64-bit LSB " + {2: "executable", 3: "pie executable"}.get(e_type, f"type {e_type}")
            + {183: ", ARM aarch64", 62: ", x86-64"}.get(machine, f", machine {machine}")
            if is_elf and data[4] == 2 and data[5] == 1 else "not a 64-bit little-endian ELF")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bootstrap", data)
    print(f"{name:<24} {kind:<44} {len(data) / 1e6:>8.1f}MB {buf.tell() / 1e6:>8.1f}MB")
    if machine != 183 or e_type not in (2, 3):
        bad.append(f"{name}: {kind}, want an aarch64 executable (template: Architectures [arm64])")
if bad:
    print("make package: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
echo "make package: $(($took / 60))m$(($took % 60))s for sam build; artifacts in .aws-sam/build (sam deploy uploads them)"
