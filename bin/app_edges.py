"""App-to-app import edges of production code (tests, migrations, bench excluded)."""
import ast, os, sys, collections
root = sys.argv[1] if len(sys.argv) > 1 else "."
apps = [d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "apps.py"))]
edges = collections.defaultdict(list)
for app in apps:
    for dp, dn, fn in os.walk(os.path.join(root, app)):
        if "migrations" in dp.split(os.sep) or "tests" in dp.split(os.sep):
            continue
        for f in fn:
            if not f.endswith(".py"):
                continue
            p = os.path.join(dp, f)
            mod = os.path.relpath(p, root)[:-3].replace(os.sep, ".")
            tree = ast.parse(open(p).read())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for n in names:
                    top = n.split(".")[0]
                    if top in apps and top != app:
                        edges[(app, top)].append(f"{mod} -> {n} (line {node.lineno})")
verbose = "-v" in sys.argv
print(len(edges), "edges")
for (a, b), l in sorted(edges.items()):
    two = " <->" if (b, a) in edges else ""
    print(f"{a} -> {b}: {len(l)}{two}")
    if verbose:
        for x in l: print("    ", x)
pairs = {tuple(sorted(k)) for k in edges if (k[1], k[0]) in edges}
print(len(pairs), "two-way pairs:", sorted(pairs))
