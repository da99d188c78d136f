#!/usr/bin/env python3
"""Count the app-to-app import edges of production code (tests, migrations and bench left out),
and the pairs of apps that import each other; ``-v`` lists each import. Run from the repo:
``python bin/app_edges.py [-v]``. The contract itself is ``.importlinter`` (``lint-imports``)."""

import ast
import collections
import os
import sys


def edges(root: str) -> dict[tuple[str, str], list[str]]:
    apps = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "apps.py")))
    found = collections.defaultdict(list)
    for app in apps:
        for folder, _subfolders, files in os.walk(os.path.join(root, app)):
            if {"migrations", "tests"} & set(folder.split(os.sep)):
                continue
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                module = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                with open(path) as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        names = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        names = [node.module]
                    else:
                        continue
                    for imported in names:
                        top = imported.split(".")[0]
                        if top in apps and top != app:
                            found[(app, top)].append(f"{module} -> {imported} (line {node.lineno})")
    return found


def main() -> None:
    found = edges(".")
    print(len(found), "edges")
    for (a, b), imports in sorted(found.items()):
        print(f"{a} -> {b}: {len(imports)}{' <->' if (b, a) in found else ''}")
        if "-v" in sys.argv:
            for line in imports:
                print("    ", line)
    pairs = sorted({tuple(sorted(k)) for k in found if (k[1], k[0]) in found})
    print(len(pairs), "two-way pairs:", pairs)


if __name__ == "__main__":
    main()
