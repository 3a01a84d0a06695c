#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to its project's
# PublicAPI.Unshipped.txt, and drops declared symbols that no longer exist (RS0017).
# Review the diff: it is the change to the package's public surface.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build "${PROJECT:-Virt.sln}" -nologo -clp:NoSummary ${1:+"$@"} >"$log" 2>&1 || true
python3 - "$log" <<'PY'
import re, sys, collections, os
adds, removes = collections.defaultdict(set), collections.defaultdict(set)
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r"error (RS001[67]): Symbol '(.*)' is (?:not part of the declared public API|part of the declared API, but is either not public or could not be found).*\[(.*\.csproj)\]", line)
    if not m:
        continue
    code, symbol, project = m.groups()
    (adds if code == "RS0016" else removes)[os.path.dirname(project)].add(symbol)
for folder in set(adds) | set(removes):
    path = os.path.join(folder, "PublicAPI.Unshipped.txt")
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")] if os.path.exists(path) else ["#nullable enable"]
    body = sorted((set(lines[1:]) | adds[folder]) - removes[folder] - {""})
    open(path, "w", encoding="utf-8").write("\n".join([lines[0]] + body) + "\n")
    print(f"{path}: +{len(adds[folder])} -{len(removes[folder])}")
PY
