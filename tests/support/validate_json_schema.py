#!/usr/bin/python3
"""Validates a JSON document against a JSON Schema (draft 7) with the schemas it references.

usage: validate_json_schema.py SCHEMA DOCUMENT [REFERENCED_SCHEMA...]
Referenced schemas are registered under their $id and under their file name next to the main
schema's $id, so relative $refs resolve offline. Exit 0 when valid; 1 with every error listed.
"""
import json
import sys
import os

import jsonschema


def main():
    schema_path, doc_path, *refs = sys.argv[1:]
    schema = json.load(open(schema_path))
    base = schema.get("$id", "")
    store = {}
    for r in [schema_path] + refs:
        s = json.load(open(r))
        if "$id" in s:
            store[s["$id"]] = s
        store[base.rsplit("/", 1)[0] + "/" + os.path.basename(r)] = s
    resolver = jsonschema.RefResolver(base_uri=base, referrer=schema, store=store)
    validator = jsonschema.Draft7Validator(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(json.load(open(doc_path))), key=lambda e: list(e.path))
    for e in errors:
        print("/".join(str(p) for p in e.path) or "(root)", ":", e.message)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
