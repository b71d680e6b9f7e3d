"""Stage 2: check each document against the JSON Schema, with messages people can act on.

Unknown keys are errors with a did-you-mean (a typo must never disable a feature
silently); each problem names file, line and field.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from generator.errors import Problem
from generator.spec.load import Document, Path_

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SPEC_SCHEMA = "spec.schema.json"

MAX_PROBLEMS_PER_DOCUMENT = 20

# Work bounds (docs/errors.md): a generated or hostile spec with 10,000 SLOs in one service
# is refused at once instead of running for minutes. The run limit leaves room for a large
# infra repo: 1,000 services of 4 SLOs, 6 thresholds and 2 capacity checks are 12,000.
ITEM_KEYS = ("slos", "thresholds", "capacity", "freshness", "expiry", "absence")
MAX_ITEMS_PER_LIST = 200
MAX_ITEMS_PER_RUN = 20_000


@cache
def schema() -> dict[str, Any]:
    text = resources.files("generator.spec.schema").joinpath(SPEC_SCHEMA).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    # The schema is ours and fixed: tests/test_schema.py checks it against its
    # metaschema, so a run need not (that check took longer than validating a spec).
    import jsonschema  # not for the command line's cache hits (tests/test_cache.py)

    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def check_document(doc: Document) -> list[Problem]:
    """Every schema problem of one document, most specific first, one per field."""
    if not isinstance(doc.data, dict):
        kind = _kind(doc.data)
        return [
            doc.problem(
                (),
                f"the document is {kind}; a spec is a mapping that starts with "
                "'version: promspec/v1' and 'service: <name>'",
            )
        ]
    for key in ITEM_KEYS:
        items = doc.data.get(key)
        if isinstance(items, list) and len(items) > MAX_ITEMS_PER_LIST:
            message = (
                f"{len(items)} entries, over the limit of {MAX_ITEMS_PER_LIST} per service; "
                "split the service or use group_by"
            )
            return [doc.problem((key,), message)]
    return schema_problems(doc, _validator(), doc.data)


def schema_problems(
    doc: Document, validator: jsonschema.protocols.Validator, instance: Any, at: Path_ = ()
) -> list[Problem]:
    """What `validator` finds wrong in `instance`, the part of `doc` at `at`: most
    specific first, one per field."""
    problems: dict[str, Problem] = {}
    for error in _leaf_errors(validator.iter_errors(instance)):
        path, message = _explain(error)
        problem = doc.problem((*at, *path), message)
        problems.setdefault(problem.field, problem)
    return sorted(problems.values())[:MAX_PROBLEMS_PER_DOCUMENT]


def _leaf_errors(errors: Any) -> list[ValidationError]:
    """Descend into if/then/else and the right branch of oneOf to the real mistake."""
    out: list[ValidationError] = []
    for error in errors:
        if error.validator in ("if", "then", "else", "$ref", "allOf"):
            out.extend(_leaf_errors(error.context or []))
            if not error.context:
                out.append(error)
        elif error.validator in ("oneOf", "anyOf") and error.context:
            # Branches that failed only on their type are not what the user meant.
            meant = [
                e
                for e in error.context
                if not (e.validator in ("type", "const") and len(e.relative_path) == 0)
            ]
            best = _best_match(meant) if meant else None
            out.extend(_leaf_errors([best]) if best is not None else [error])
        else:
            out.append(error)
    return out


def _best_match(errors: list[ValidationError]) -> ValidationError | None:
    from jsonschema.exceptions import best_match

    found: ValidationError | None = best_match(errors)
    return found


def _explain(error: ValidationError) -> tuple[Path_, str]:
    path: Path_ = tuple(error.absolute_path)
    sub = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(sub.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        if unknown and sub.get("properties"):
            key = unknown[0]
            guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{guess[0]}'?" if guess else f"allowed: {', '.join(allowed)}"
            return (*path, key), f"unknown key '{key}' ({hint})"
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in sub.get("required", []) if k not in instance]
        if missing and "x-message" not in sub:
            return path, f"missing required key '{missing[0]}'; add it"
    if error.validator == "type" and "x-message" not in sub:
        wanted = sub.get("type")
        if isinstance(wanted, str) and wanted in _TYPE_WORDS:
            return path, f"must be {_TYPE_WORDS[wanted]}, not {_kind(error.instance)}"
    message = sub.get("x-message")
    if message:
        got = error.instance
        if isinstance(got, dict):
            shown = "keys " + ", ".join(map(str, got)) if got else "an empty mapping"
        elif isinstance(got, list):
            shown = "a list"
        else:
            shown = json.dumps(got)[:60]
        return path, f"{message} (got {shown})"
    return path, error.message


def count_items(data: Any) -> int:
    """SLOs and checks a document asks for, counted before any validation."""
    if not isinstance(data, dict):
        return 0
    # Lists over the per-service limit count at the limit: check_document names them.
    return sum(
        min(len(v), MAX_ITEMS_PER_LIST) for k in ITEM_KEYS if isinstance(v := data.get(k), list)
    )


_TYPE_WORDS = {
    "array": "a list ('- item' lines or [a, b])",
    "object": "a mapping (key: value lines)",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


def _kind(value: Any) -> str:
    """What a YAML value is, in the words of the error messages."""
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"the number {json.dumps(value)}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:60]}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty (null)" if value is None else type(value).__name__
