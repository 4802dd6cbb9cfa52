#!/usr/bin/env python3
"""Module dependencies inside the `kiosk` crate (shared/src), and their cycles.

A module depends on another when its code (not its comments) names `crate::other`
or `super::other`; `store/orders.rs` is the module `store`, and so on (a directory is
one module). Code after a file's first `#[cfg(test)]` is its tests (they sit at the end
of every file here) and may use anything. Prints each module's dependencies, then every
strongly connected group of more than one module (a cycle), and exits 1 if there is
one. (Reintroducing `order` -> `delivery` brings back the seven-module circle this was
written to remove: delivery, edition, grant, mail, order, store.)

    python3 scripts/module-deps.py
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "shared" / "src"


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] in ("lib.rs", "main.rs"):
        return "lib"
    return rel.parts[0].removesuffix(".rs")


def code(text: str) -> str:
    # Drop comments (doc links name modules without depending on them) and strings.
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return text


deps: dict[str, set[str]] = {}
modules = {module_of(p) for p in root.rglob("*.rs")}
for path in root.rglob("*.rs"):
    m = module_of(path)
    if m == "lib":
        continue
    text = code(path.read_text())
    # `#[cfg(test)]` modules may use anything; cut the file there.
    text = text.split("#[cfg(test)]")[0]
    used = set(re.findall(r"\bcrate::([a-z_]+)", text))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
        used |= set(re.findall(r"(?:^|,)\s*([a-z_]+)", group))
    if path.parent != root:  # a file inside a module's directory
        used |= {u for u in re.findall(r"\bsuper::super::([a-z_]+)", text)}
    deps.setdefault(m, set()).update(u for u in used if u in modules and u != m and u != "lib")

# Tarjan's strongly connected components.
index, low, stack, on, sccs = {}, {}, [], set(), []


def strong(v: str, counter=[0]) -> None:
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(deps.get(v, ())):
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop()
            on.discard(w)
            group.append(w)
            if w == v:
                break
        sccs.append(sorted(group))


sys.setrecursionlimit(10000)
for v in sorted(deps):
    if v not in index:
        strong(v)

for m in sorted(deps):
    print(f"{m:10} -> {', '.join(sorted(deps[m])) or '-'}")
cycles = [g for g in sccs if len(g) > 1]
for g in cycles:
    print("cycle:", " <-> ".join(g))
sys.exit(1 if cycles else 0)
