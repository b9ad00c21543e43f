#!/usr/bin/python3
"""Validates a JSON document against a JSON Schema (draft 7) with the schemas it references.

usage: validate_json_schema.py SCHEMA DOCUMENT [REFERENCED_SCHEMA...]
Referenced schemas are registered under their $id and under their file name next to the main
schema's $id, so relative $refs resolve offline. Exit 0 when valid; 1 with every error listed.
"pattern" is matched with the `regex` module (python3-regex), which knows the Unicode property
classes (\\p{L}) NIST's OSCAL schemas use and Python's re does not.

jsonschema 4.10 (Debian 12) crashes, instead of reporting, when an "additionalItems: false"
branch of a oneOf meets two or more extra objects: its error message sorts them, and objects do
not sort (TypeError; fixed upstream in later releases). CycloneDX's licence choice is such a
oneOf, so a component with three licences crashed the check. The message helper is replaced with
one that orders by repr; what is valid is unchanged.
"""
import json
import sys
import os

import importlib

import jsonschema
import regex


def _extras_msg(extras):
    verb = "was" if len(extras) == 1 else "were"
    return ", ".join(sorted(repr(extra) for extra in extras)), verb


# Only where the crashing helper exists (jsonschema 4.10's layout; later releases differ).
for _name in ("jsonschema._utils", "jsonschema._validators"):
    try:
        _module = importlib.import_module(_name)
    except ImportError:
        continue
    if hasattr(_module, "extras_msg"):
        _module.extras_msg = _extras_msg


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not regex.search(patrn, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")


Draft7Unicode = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


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
    validator = Draft7Unicode(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(json.load(open(doc_path))), key=lambda e: list(e.path))
    for e in errors:
        print("/".join(str(p) for p in e.path) or "(root)", ":", e.message)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
