#!/usr/bin/env python3
"""Fails when a source file in appliance/ has no test.

Every appliance/X.cpp has tests/unit/X_test.cpp, or a line in the table under "Files tested
through other tests" in docs/architecture.md naming what covers it: a test file (which must
exist) or "integration: NAME", a Catch test case in tests/integration/ with exactly that name.
A line for a file that no longer exists, or that now has its own unit test, fails too: the table
only lists what is true. A Catch test case whose name holds a ';' fails as well: ctest would split
it into two names that match nothing.

Usage: check-tests.py SOURCE_ROOT   (the repository: appliance/, tests/, docs/architecture.md)
"""
import os
import re
import sys

ROW = re.compile(r"^\|\s*`([^`]+\.cpp)`\s*\|\s*(.+?)\s*\|\s*$")
TEST_CASE = re.compile(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def sources(root):
    out = []
    base = os.path.join(root, "appliance")
    for folder, _, names in os.walk(base):
        for name in names:
            if name.endswith(".cpp"):
                out.append(os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/"))
    return sorted(out)


def integration_cases(root):
    names = set()
    base = os.path.join(root, "tests", "integration")
    for name in sorted(os.listdir(base)):
        if name.endswith(".cpp"):
            with open(os.path.join(base, name), encoding="utf-8") as f:
                for m in TEST_CASE.finditer(f.read()):
                    names.add("".join(LITERAL.findall(m.group(1))))
    return names


def table(root):
    rows, inside = {}, False
    with open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#"):
                inside = line.strip().endswith("Files tested through other tests")
                continue
            m = ROW.match(line) if inside else None
            if m:
                rows[m.group(1)] = (number, m.group(2).strip("`"))
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    cases, rows, problems = integration_cases(root), table(root), []
    files = sources(root)
    owned = 0
    for rel in files:
        own = os.path.join(root, "tests", "unit", rel[:-4] + "_test.cpp")
        if os.path.exists(own):
            owned += 1
            if rel in rows:
                problems.append(f"docs/architecture.md:{rows[rel][0]}: {rel} has its own unit "
                                f"test now; drop its line")
            continue
        if rel not in rows:
            problems.append(f"appliance/{rel}: no tests/unit/{rel[:-4]}_test.cpp and no line in "
                            f"docs/architecture.md's 'Files tested through other tests'")
            continue
        number, by = rows[rel]
        if by.startswith("integration: "):
            if by[len("integration: "):] not in cases:
                problems.append(f"docs/architecture.md:{number}: no integration test case named "
                                f"'{by[len('integration: '):]}'")
        elif not os.path.isfile(os.path.join(root, by)):
            problems.append(f"docs/architecture.md:{number}: {by} does not exist")
    for folder, _, names in os.walk(os.path.join(root, "tests")):
        for name in sorted(names):
            if name.endswith(".cpp"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for m in TEST_CASE.finditer(f.read()):
                        case = "".join(LITERAL.findall(m.group(1)))
                        if ";" in case:
                            problems.append(f"{os.path.relpath(path, root)}: test case '{case}' "
                                            f"holds a ';' (ctest splits the name there)")
    for rel, (number, _) in sorted(rows.items()):
        if rel not in files:
            problems.append(f"docs/architecture.md:{number}: appliance/{rel} does not exist")
    for p in problems:
        print("check-tests: " + p)
    print(f"check-tests: {len(files)} source files, {owned} with their own unit test, "
          f"{len(files) - owned} tested through the tests listed in docs/architecture.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
