"""The JSON Schema is what editors show while people type a spec: every field explains
itself, and the main fields carry examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conftest import ROOT

SCHEMA_TEXT = (ROOT / "generator" / "schema" / "spec.schema.json").read_text()
SCHEMA = json.loads(SCHEMA_TEXT)


def _properties(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema in the document, with a readable path."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{path}.{name}", sub
        for key, sub in node.items():
            if key == "if":
                continue  # the defaults/service discriminator, not a field people write
            yield from _properties(sub, f"{path}/{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{path}[{i}]")


def _described(prop: dict[str, Any]) -> bool:
    if "description" in prop:
        return True
    ref = prop.get("$ref", "")
    return ref.startswith("#/$defs/") and "description" in SCHEMA["$defs"][ref.split("/")[-1]]


def test_no_key_is_written_twice() -> None:
    """A repeated key is silently shadowed by the last one (a lost description, say)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"repeated key in {keys}"
        return dict(pairs)

    json.loads(SCHEMA_TEXT, object_pairs_hook=unique)


def test_every_property_has_a_description() -> None:
    props = list(_properties(SCHEMA))
    assert len(props) > 150  # the walk reaches the nested fields
    missing = [path for path, prop in props if not _described(prop)]
    assert missing == []


def test_every_definition_has_a_description() -> None:
    assert [name for name, d in SCHEMA["$defs"].items() if "description" not in d] == []


def test_main_fields_have_examples() -> None:
    defs = SCHEMA["$defs"]
    service, slo = defs["service"]["properties"], defs["slo"]["properties"]
    for prop in (
        service["team"],
        service["tier"],
        service["runbook_base_url"],
        slo["objective"],
        slo["name"],
    ):
        assert prop.get("examples"), prop
    for name in ("name", "duration", "labels", "selectorExpr", "selector"):
        assert defs[name].get("examples"), name


def test_examples_are_valid_against_their_own_schema() -> None:
    import jsonschema

    for _path, prop in _properties(SCHEMA):
        for example in prop.get("examples", []):
            resolver_schema = {**prop, "$defs": SCHEMA["$defs"]}
            resolver_schema.pop("examples")
            jsonschema.validate(example, resolver_schema)
