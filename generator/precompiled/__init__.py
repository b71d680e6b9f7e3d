"""Our templates as Jinja compiles them, and our JSON schemas as fastjsonschema compiles
them, so that a run need not compile them again.

Compiling the package templates costs a cold run ~0.1 s, and the rule schema's validator
~0.02 s, in every worker process: a tenth of a 10-service run. The spec schema's
validator (validate.py's fast path) would take ~0.2 s to compile. The modules here hold
the Python code Jinja generates for each template and fastjsonschema for the schemas;
`python -m generator.precompiled` (`make templates`) writes them, and Python's own
bytecode cache then keeps them compiled as it does any module.

A module is used only while its fingerprint still matches: the template's source, the
Jinja version and the environment's syntax options; a schema's text and the
fastjsonschema version. Otherwise it is compiled from source as before, so a stale
module costs time and never changes the output. tests/test_precompiled.py fails when a
module is stale against its source.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Callable, MutableMapping
from importlib import resources
from typing import Any

import fastjsonschema
import jinja2

from generator.precompiled import index

# The schemas whose validators are precompiled, and how: the rule file's as render.py
# would compile it; the spec's only answers valid or not (validate.py), so it must never
# fill in defaults and need not carry the annotations (half the code's size).
SCHEMA_OPTIONS: dict[str, dict[str, Any]] = {
    "rules.schema.json": {},
    "spec.schema.json": {"use_default": False},
}
VERDICT_ONLY = frozenset({"spec.schema.json"})


def module_name(template: str) -> str:
    """rules_slo.yml.j2 -> rules_slo_yml_j2"""
    return template.replace(".", "_").replace("-", "_")


def fingerprint(env: jinja2.Environment, name: str, source: str, jinja: str) -> str:
    """What Jinja's generated code for `source` depends on, with Jinja version `jinja`."""
    options = (
        jinja,
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.autoescape,
        env.optimized,
        env.is_async,
        env.sandboxed,
        sorted(env.extensions),
    )
    text = "\0".join((repr(options), name, source))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template(
    env: jinja2.Environment, name: str, source: str, globals: MutableMapping[str, Any]
) -> jinja2.Template | None:
    """The template from its precompiled code, or None when that is missing or stale."""
    expected = index.FINGERPRINTS.get(name)
    if expected is None or expected != fingerprint(env, name, source, jinja2.__version__):
        return None
    spec = importlib.util.find_spec(f"{__name__}.{module_name(name)}")
    loader = spec.loader if spec is not None else None
    if loader is None or not hasattr(loader, "get_code"):
        return None
    code = loader.get_code(spec.name)  # type: ignore[union-attr]
    if code is None:
        return None
    return env.template_class.from_code(env, code, globals, lambda: True)


def schema_text(name: str) -> str:
    """The text of generator/schema/`name`."""
    return resources.files("generator.schema").joinpath(name).read_text("utf-8")


def schema_fingerprint(schema: str, version: str) -> str:
    """What fastjsonschema's code for a schema depends on."""
    return hashlib.sha256(f"{version}\0{schema}".encode()).hexdigest()


def schema_module(name: str) -> str:
    """rules.schema.json -> rules_schema"""
    return name.removesuffix(".json").replace(".", "_")


def schema_validator(name: str, schema: str) -> Callable[[Any], Any] | None:
    """The validator of generator/schema/`name` from its precompiled code, or None when
    that is missing or stale."""
    if schema_fingerprint(schema, fastjsonschema.VERSION) != index.SCHEMAS.get(name):
        return None
    module = importlib.import_module(f"{__name__}.{schema_module(name)}")
    validate: Callable[[Any], Any] = module.VALIDATE
    return validate
