#!/usr/bin/env python3
"""Fails when SQL appears in appliance/ outside the code that owns the tables.

Owners: the repositories (any *_repository.cpp), the store (store/: blobs, manifests, tags, the
schema and its migrations) and the SQLite wrapper (core/sqlite.cpp). Every other file may hold
at most the number of SQL statements the baseline file records for it, and the baseline must
match exactly: moving a query into a repository means lowering the file's count (or deleting its
line), so the number can only go down.

Usage: check-sql.py APPLIANCE_DIR BASELINE_FILE
"""
import os
import re
import sys

# (DELETE only with FROM: "DELETE /api/v1/..." is a route, not a statement.)
SQL = re.compile(r'"\s*(SELECT|INSERT|UPDATE|DELETE\s+FROM|CREATE|REPLACE|WITH|PRAGMA|ALTER|DROP)\s')


def owner(rel):
    return rel.endswith("_repository.cpp") or rel.startswith("store/") or rel == "core/sqlite.cpp"


def counts(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as f:
                n = len(SQL.findall(f.read()))
            if n and not owner(rel):
                found[rel] = n
    return found


def baseline(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                sys.exit(f"{path}:{number}: expected 'PATH COUNT'")
            out[parts[0]] = int(parts[1])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, base_file = sys.argv[1], sys.argv[2]
    now, base = counts(root), baseline(base_file)
    problems = []
    for rel in sorted(set(now) | set(base)):
        have, allowed = now.get(rel, 0), base.get(rel, 0)
        if have > allowed:
            problems.append(f"{rel}: {have} SQL statement(s), {allowed} allowed: move the query into the repository owning its table")
        elif have < allowed:
            problems.append(f"{rel}: {have} SQL statement(s) where the baseline says {allowed}: lower it in {base_file}")
    for p in problems:
        print(f"check-sql: {p}")
    total = sum(now.values())
    print(f"check-sql: {total} SQL statement(s) outside repositories in {len(now)} file(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
