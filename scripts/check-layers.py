#!/usr/bin/env python3
"""Fails when an #include in appliance/ points up or sideways in the component layers.

The table is the one appliance/CMakeLists.txt links by (and docs/architecture.md draws): a
component may include itself and the components it lists, and what those may include.
"""
import os
import re
import sys

ALLOWED = {
    "core": [],
    "version": ["core"],
    "store": ["core"],
    "config": ["core"],
    "advisory": ["version"],
    "audit": ["store"],
    "registry": ["store"],
    "snapshot": ["advisory", "audit", "store", "config"],
    "scan": ["advisory", "audit", "store", "version"],
    "heal": ["scan", "audit", "store", "config", "version"],
    "builder": ["heal"],
    "evidence": ["heal", "scan", "snapshot", "audit", "store"],
    "api": ["evidence", "heal", "scan", "snapshot", "registry", "audit", "store"],
    "daemon": ["api", "snapshot", "heal", "registry", "scan", "config"],
    "cli": ["daemon", "api", "evidence", "heal", "scan", "snapshot", "registry", "config", "advisory"],
}


def reachable(component):
    seen, frontier = set(), [component]
    while frontier:
        c = frontier.pop()
        if c in seen:
            continue
        seen.add(c)
        frontier.extend(ALLOWED[c])
    return seen


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "appliance")
    include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
    problems = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(folder, name)
            component = os.path.relpath(path, root).split(os.sep)[0]
            if component not in ALLOWED:
                problems.append(f"{path}: component '{component}' is not in the layer table")
                continue
            may = reachable(component)
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = include.match(line)
                    if m and m.group(1) in ALLOWED and m.group(1) not in may:
                        problems.append(f"{os.path.relpath(path, root)}:{number} includes {m.group(1)}/: "
                                        f"'{component}' may use only {', '.join(sorted(may - {component})) or 'nothing'}")
    for p in problems:
        print("layering: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
