#!/usr/bin/env python3
"""Validates MCP Registry entries (server.json files) against the registry's published schema.

  validate_server_json.py SERVER_JSON...

The schema is not committed here: it comes from a pinned PyPI package that ships the
registry's released schemas byte for byte (skillsaw, installed by .ci/package), and its
SHA-256 is pinned below, so a different file fails instead of validating against something
else. Each entry's `$schema` must be that schema's `$id`. Validation is JSON Schema draft-07
with formats checked (jsonschema, pinned)."""
import hashlib
import json
import sys
from importlib import metadata

import jsonschema

SCHEMA_ID = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_FILE = "skillsaw/schemas/mcp_registry/v2025_12_11/server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"


def main():
    path = metadata.distribution("skillsaw").locate_file(SCHEMA_FILE)
    data = open(path, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SCHEMA_SHA256:
        sys.exit(f"FAIL: {path} has sha256 {digest}, not the pinned {SCHEMA_SHA256}")
    schema = json.loads(data)
    assert schema["$id"] == SCHEMA_ID, schema["$id"]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    failed = False
    for entry_path in sys.argv[1:]:
        entry = json.load(open(entry_path, encoding="utf-8"))
        errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path))
        if entry.get("$schema") != SCHEMA_ID:
            errors.append(f"$schema is {entry.get('$schema')!r}, not {SCHEMA_ID}")
        for e in errors:
            where = "/".join(map(str, getattr(e, "absolute_path", []))) or "(root)"
            print(f"FAIL: {entry_path}: {where}: {getattr(e, 'message', e)}")
        failed |= bool(errors)
        if not errors:
            kinds = ", ".join(f"{p['registryType']} {p['identifier']}" for p in entry.get("packages", []))
            print(f"ok: {entry_path} is valid against {SCHEMA_ID} ({kinds})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
