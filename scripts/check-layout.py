#!/usr/bin/env python3
"""Every module of the library crate (`shared/src/*.rs`, `shared/src/store/*.rs`) and
every source file of the web crate is named in the README's Layout block, so a new
module cannot land undocumented (the kind of claim that drifted most: issue 34).
Run by `make lint`; prints what is missing and exits 1."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
readme = (root / "README.md").read_text(encoding="utf-8")
m = re.search(r"## Layout\n\n```\n(.*?)\n```", readme, re.S)
if not m:
    sys.exit("check-layout: README.md has no Layout block")
layout = m.group(1)

missing = []
for path in sorted((root / "shared/src").glob("*.rs")) + sorted((root / "shared/src/store").glob("*.rs")):
    rel = path.relative_to(root / "shared")
    name = str(rel)
    if name in ("src/lib.rs", "src/store/mod.rs"):
        continue
    short = name.replace("src/store/", "store/")
    if f"{name}" not in layout and f"{short}" not in layout and f"{path.name} " not in layout:
        missing.append(f"shared/{name}")
for path in sorted((root / "functions/web/src").glob("*.rs")):
    if path.name == "lib.rs":
        continue
    if f"web/src/{path.name}" not in layout and f"`{path.stem}`" not in layout:
        missing.append(str(path.relative_to(root)))
if missing:
    print("check-layout: README.md's Layout block does not name:", file=sys.stderr)
    for f in missing:
        print(f"  {f}", file=sys.stderr)
    sys.exit(1)
print("check-layout: every library module is in README.md's Layout")
