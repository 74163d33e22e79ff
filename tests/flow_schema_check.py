#!/usr/bin/env python3
"""The flow-file JSON Schema agrees with the loader: every shipped flow, every flow file in the
docs, and every flow the loader accepts in the fuzz seed corpus validates; documents the loader
refuses for their shape are refused by the schema too.

    flow_schema_check.py SOURCE_DIR PATH_TO_TENDRIL
"""
import json
import pathlib
import re
import subprocess
import sys

import jsonschema

source, tendril = pathlib.Path(sys.argv[1]), sys.argv[2]
schema = json.loads((source / "docs/flow-file.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failures = 0


def check(what, ok, detail=""):
    global failures
    print(("ok: " if ok else "FAILED: ") + what + ("" if ok else f" ({detail})"))
    failures += not ok


def errors(document):
    return [e.message for e in validator.iter_errors(document)]


# Shipped flows and the docs' flow files (```json blocks with a flow_id) validate.
files = sorted((source / "examples/flows").glob("*.json"))
check("there are shipped flows", len(files) > 0)
for path in files:
    problems = errors(json.loads(path.read_text()))
    check(f"{path.name} validates", not problems, problems)
for doc in sorted((source / "docs").glob("*.md")):
    for block in re.findall(r"```json\n(.*?)```", doc.read_text(), re.S):
        document = json.loads(block)
        if isinstance(document, dict) and "flow_id" in document:
            problems = errors(document)
            check(f"the flow in {doc.name} validates", not problems, problems)

# What the loader accepts, the schema accepts (the fuzz seeds include odd but valid flows).
for path in sorted((source / "fuzz/corpus/flow_file").glob("*.json")):
    loaded = subprocess.run([tendril, "flow", "validate", str(path)], capture_output=True,
                            text=True)
    if loaded.stderr.startswith("tendril flow validate:"):
        continue  # not loadable: nothing to compare
    problems = errors(json.loads(path.read_text()))
    check(f"{path.name}, which the loader takes, validates", not problems, problems)

# Shapes the loader refuses (unknown keys, wrong types, out of range) the schema refuses too.
base = {"flow_id": "x", "routines": {"a": {"type": "tendril.Relay"}}}
bad = {
    "an unknown top-level key": {**base, "connection": []},
    "no routines": {"flow_id": "x"},
    "an empty flow_id": {**base, "flow_id": ""},
    "an unknown routine key": {"flow_id": "x", "routines": {"a": {"type": "t", "polcy": {}}}},
    "a typo in a handler key": {**base, "error_handler": {"strategy": "retry", "max_retry": 3}},
    "an unknown strategy": {**base, "error_handler": {"strategy": "retyr"}},
    "batch_size n = 0": {"flow_id": "x", "routines": {"a": {
        "type": "t", "policy": {"type": "batch_size", "n": 0}}}},
    "a time_interval without ms": {"flow_id": "x", "routines": {"a": {
        "type": "t", "policy": {"type": "time_interval"}}}},
    "an extra policy key": {"flow_id": "x", "routines": {"a": {
        "type": "t", "policy": {"type": "immediate", "timeout_ms": 5}}}},
    "a connection without its slot": {**base, "connections": [
        {"from": "a", "event": "out", "to": "a"}]},
    "entry that is not a boolean": {"flow_id": "x", "routines": {"a": {"type": "t", "entry": 1}}},
}
for what, document in bad.items():
    check(f"the schema refuses {what}", bool(errors(document)))

print(f"{failures} failed")
sys.exit(1 if failures else 0)
