"""The JSON Schema is what editors show while people type a spec: every field explains
itself and carries examples, and every example is valid where it stands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from conftest import ROOT
from referencing import Registry, Resource

SCHEMA_TEXT = (ROOT / "generator" / "spec" / "schema" / "spec.schema.json").read_text()
SCHEMA = json.loads(SCHEMA_TEXT)
REGISTRY: Registry[Any] = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))
VALIDATOR_CLASS = jsonschema.validators.validator_for(SCHEMA)

# Keywords whose values are data, not subschemas: a walk must not read their contents as
# schema (an example mapping with a "properties" key is not a properties keyword).
DATA_KEYWORDS = frozenset({"examples", "const", "enum", "default", "required", "x-message"})


def _pointer_part(key: str | int) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _properties(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema in the document (every value of every "properties" keyword,
    at any depth, in every definition), with its JSON pointer."""
    if isinstance(node, dict):
        for key, sub in node.items():
            if key in DATA_KEYWORDS or (pointer == "" and key == "if"):
                continue  # the root "if" is the defaults/service discriminator, not a field
            here = f"{pointer}/{_pointer_part(key)}"
            if key == "properties" and isinstance(sub, dict):
                for name, prop in sub.items():
                    prop_pointer = f"{here}/{_pointer_part(name)}"
                    yield prop_pointer, prop
                    yield from _properties(prop, prop_pointer)
            else:
                yield from _properties(sub, here)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{pointer}/{i}")


def _schemas_with_examples(node: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that carries examples: properties and definitions alike."""
    if isinstance(node, dict):
        if "examples" in node:
            yield pointer, node
        for key, sub in node.items():
            if key not in DATA_KEYWORDS:
                yield from _schemas_with_examples(sub, f"{pointer}/{_pointer_part(key)}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _schemas_with_examples(sub, f"{pointer}/{i}")


PROPERTIES = list(_properties(SCHEMA))
WITH_EXAMPLES = list(_schemas_with_examples(SCHEMA))


def _description(prop: dict[str, Any]) -> str:
    """The property's own description, else that of the definition its $ref names (what
    editors show on hover)."""
    if prop.get("description"):
        return str(prop["description"])
    ref = prop.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return str(SCHEMA["$defs"][ref.removeprefix("#/$defs/")].get("description", ""))
    return ""


def _validator_at(pointer: str) -> jsonschema.protocols.Validator:
    """A validator for the subschema at pointer, in place: its $refs resolve against the
    root schema, exactly as when a whole spec is validated."""
    return VALIDATOR_CLASS({"$ref": f"{SCHEMA['$id']}#{pointer}"}, registry=REGISTRY)


def test_the_schema_is_a_valid_schema_of_its_draft() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert VALIDATOR_CLASS is jsonschema.Draft202012Validator
    VALIDATOR_CLASS.check_schema(SCHEMA)


def test_no_key_is_written_twice() -> None:
    """A repeated key is silently shadowed by the last one (a lost description, say)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"repeated key in {keys}"
        return dict(pairs)

    json.loads(SCHEMA_TEXT, object_pairs_hook=unique)


def test_the_walk_reaches_every_property() -> None:
    assert len(PROPERTIES) >= 156  # nested objects, oneOf branches, presets, defaults
    pointers = {pointer for pointer, _ in PROPERTIES}
    for nested in (
        "/$defs/burnTier/oneOf/1/properties/long_window",
        "/$defs/alerting/properties/no_data/oneOf/1/properties/for",
        "/$defs/threshold/properties/quantile/properties/by",
        "/$defs/capacity/properties/exhaustion/oneOf/1/properties/within",
        "/$defs/defaults/properties/presets/additionalProperties/properties/expr",
        "/$defs/defaults/properties/capacity/properties/headroom/properties/critical",
        "/$defs/absence/properties/target",
    ):
        assert nested in pointers, nested


def test_every_property_has_a_description() -> None:
    missing = [pointer for pointer, prop in PROPERTIES if not _description(prop).strip()]
    assert missing == []


def test_every_definition_has_a_description() -> None:
    defs = SCHEMA["$defs"].items()
    missing = [name for name, d in defs if not str(d.get("description", "")).strip()]
    assert missing == []


def test_every_property_has_examples() -> None:
    """Its own examples, also where it is only a $ref (2020-12 allows keywords beside
    $ref), so an editor shows them on the field itself."""
    missing = [
        pointer
        for pointer, prop in PROPERTIES
        if not (isinstance(prop.get("examples"), list) and prop["examples"])
    ]
    assert missing == []


def test_every_scalar_definition_has_examples() -> None:
    """Definitions that fields $ref carry examples too, except the composite objects
    (service, slo, threshold, ...), whose fields carry them."""
    composite = (
        "service",
        "defaults",
        "slo",
        "threshold",
        "capacity",
        "freshness",
        "expiry",
        "absence",
    )
    defs = SCHEMA["$defs"].items()
    missing = [name for name, d in defs if name not in composite and not d.get("examples")]
    assert missing == []


@pytest.mark.parametrize(("pointer", "node"), WITH_EXAMPLES, ids=[p for p, _ in WITH_EXAMPLES])
def test_examples_are_valid_against_their_own_schema(pointer: str, node: dict[str, Any]) -> None:
    examples = node["examples"]
    assert isinstance(examples, list) and 1 <= len(examples) <= 3, pointer
    distinct = {json.dumps(e, sort_keys=True) for e in examples}
    assert len(distinct) == len(examples), f"{pointer}: an example is repeated"
    validator = _validator_at(pointer)
    for example in examples:
        errors = [e.message for e in validator.iter_errors(example)]
        assert errors == [], f"{pointer}: example {example!r}: {errors}"


def test_the_examples_check_catches_a_wrong_example() -> None:
    """The check is not vacuous: $refs resolve and a bad value fails."""
    assert not _validator_at("/$defs/freshness/properties/warning").is_valid("15 minutes")
    quantile = "/$defs/threshold/properties/quantile/properties/quantile"
    assert not _validator_at(quantile).is_valid(95)
    assert not _validator_at("/$defs/capacity/properties/headroom").is_valid({"warn": 30})
    assert _validator_at("/$defs/capacity/properties/headroom").is_valid({"warning": 30})
