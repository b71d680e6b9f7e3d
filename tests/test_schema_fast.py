"""validate.py says "valid" by fastjsonschema's code for the spec schema and asks
jsonschema only about the rest: both must give the same verdict on every document."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import validate
from generator.load import load_file
from generator.precompiled import index

SCHEMA = json.loads((ROOT / "generator" / "schema" / "spec.schema.json").read_text())
JSONSCHEMA = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)

# Keywords that mean the same in draft 7 (what fastjsonschema reads) as in draft 2020-12
# (what the schema says), for how the schema uses them: a schema that needs another one
# makes the fast verdict unsafe, so this list only grows after checking its semantics.
SAME_IN_BOTH = frozenset(
    {
        # annotations, identity, references
        "$schema", "$id", "$defs", "$ref", "title", "description", "examples", "x-message",
        # types and values
        "type", "const", "enum", "pattern", "minLength", "maxLength",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        # objects and arrays (items: one schema for every item, as in draft 7)
        "properties", "additionalProperties", "required", "propertyNames",
        "minProperties", "maxProperties", "items", "minItems", "uniqueItems",
        # combinators
        "oneOf", "not", "if", "then", "else",
    }
)  # fmt: skip
ANNOTATIONS = frozenset({"$ref", "title", "description", "examples", "x-message"})
SUBSCHEMA_MAPS = {"properties", "$defs"}
SUBSCHEMA = {"items", "additionalProperties", "propertyNames", "not", "if", "then", "else"}


def _schemas(node: Any) -> list[dict[str, Any]]:
    """Every schema object in the document: the root and all its subschemas."""
    found = [node]
    for key, value in node.items():
        if key in SUBSCHEMA_MAPS:
            found += [s for sub in value.values() for s in _schemas(sub)]
        elif key in SUBSCHEMA and isinstance(value, dict):
            found += _schemas(value)
        elif key == "oneOf":
            found += [s for sub in value for s in _schemas(sub)]
    return found


def test_the_schema_stays_where_both_validators_read_it_alike() -> None:
    schemas = _schemas(SCHEMA)
    used = {key for s in schemas for key in s}
    assert used <= SAME_IN_BOTH, f"check these keywords in draft 7 first: {used - SAME_IN_BOTH}"
    assert len(schemas) > 100
    # Draft 7 ignores whatever stands beside a $ref; 2020-12 applies it.
    beside_ref = [sorted(set(s) - ANNOTATIONS) for s in schemas if "$ref" in s]
    assert not any(beside_ref), beside_ref


def documents() -> list[tuple[str, Any]]:
    found = []
    for folder in ("specs", "tests/fixtures", "tests/bad_specs"):
        for path in sorted((ROOT / folder).rglob("*.y*ml")):
            try:
                docs = load_file(path)
            except Exception:  # not even YAML: the schema never sees it
                continue
            found += [(f"{path.relative_to(ROOT)}#{i}", d.data) for i, d in enumerate(docs)]
    return found


def _verdicts(data: Any) -> tuple[bool, bool]:
    return validate._valid(data), JSONSCHEMA.is_valid(data)


def test_both_agree_on_every_spec_we_have() -> None:
    docs = documents()
    verdicts = {where: _verdicts(data) for where, data in docs}
    assert {where: v for where, v in verdicts.items() if v[0] != v[1]} == {}
    valid = sum(fast for fast, _ in verdicts.values())
    assert 20 < valid < len(docs) - 30  # both kinds, many of each


VALID = [d for _, d in documents() if isinstance(d, dict) and JSONSCHEMA.is_valid(d)]
ODD_VALUES = [True, False, 0, 1, -1, 0.5, 100, 1e9, "", "x", "5m", "0s", "99.9", None, [], {}]


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        found += [p for k, v in node.items() for p in _paths(v, (*here, k))]
    elif isinstance(node, list):
        found += [p for i, v in enumerate(node) for p in _paths(v, (*here, i))]
    return found


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_both_agree_on_specs_with_a_mistake(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["extra", "name", "for", "objective"]))] = data.draw(
                st.sampled_from(ODD_VALUES)
            )
        else:
            parent[path[-1]] = data.draw(st.sampled_from(ODD_VALUES))
        if not _paths(doc)[1:]:
            break
    fast, full = _verdicts(doc)
    assert fast == full, doc


def test_a_stale_module_leaves_the_verdict_to_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(index.SCHEMAS, validate.SPEC_SCHEMA, "stale")
    validate._fast.cache_clear()
    try:
        assert validate._fast() is None
        assert not any(validate._valid(d) for d in VALID)
        assert all(JSONSCHEMA.is_valid(d) for d in VALID)
    finally:
        monkeypatch.undo()
        validate._fast.cache_clear()
    assert all(validate._valid(d) for d in VALID)


def test_valid_specs_are_checked_without_importing_jsonschema(tmp_path: Path) -> None:
    # Its import costs a run more than validating 10 specs with it would.
    code = (
        "import sys; from pathlib import Path; from generator.pipeline import build_services;"
        f"assert len(build_services([Path({str(ROOT / 'specs')!r})])) > 10;"
        "print('jsonschema' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
