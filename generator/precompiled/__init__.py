"""Our templates as Jinja compiles them, so that a run need not compile them again.

Compiling the package templates costs a cold run ~0.1 s in every worker process. The
modules here hold the Python code Jinja generates for each template;
`python -m generator.precompiled` (`make templates`) writes them, and Python's own
bytecode cache then keeps them compiled as it does any module.

A module is used only while its fingerprint still matches: the template's source, the
Jinja version and the environment's syntax options. Otherwise it is compiled from source
as before, so a stale module costs time and never changes the output.
tests/test_precompiled.py fails when a module is stale against its source.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import MutableMapping
from typing import Any

import jinja2

from generator.precompiled import index


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
