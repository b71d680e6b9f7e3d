"""yamlread gives what libyaml gives, or leaves the text to it: never another result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import pipeline, plan, proofs, render, yamlio, yamlread

REFERENCE = yamlio.BaseLoader  # libyaml's SafeLoader


def libyaml(text: str) -> Any:
    return yaml.load(text, Loader=REFERENCE)


def agrees(text: str) -> bool:
    """Whether yamlread read `text` itself; when it did, libyaml reads the same."""
    try:
        got = yamlread.read(text)
    except yamlread.NotRead:
        return False
    expected = libyaml(text)
    assert got == expected
    assert repr(got) == repr(expected)  # the same types too: 1, 1.0, '1e5', True, None
    return True


SOURCES = [ROOT / "specs", FIXTURES, ROOT / "tests" / "fixtures" / "e2e"]


def rendered() -> list[tuple[str, str]]:
    """Every rule file and test file our templates render for the specs and fixtures."""
    env = render.environment(None, None)
    texts = []
    for source in SOURCES:
        for service in pipeline.build_services([source]):
            plans, _ = plan.plan_service(service)
            texts.append((f"{service.name}.rules", render.rules_text(env, service, plans)))
            rules = render.render_rules(env, service, plans)
            for file in proofs.test_files(service, plans, rules):
                text = env.get_template(proofs.TEMPLATE).render(file=file)
                texts.append((str(file.path), text))
    return texts


@pytest.fixture(scope="module")
def texts() -> list[tuple[str, str]]:
    return rendered()


def test_what_our_templates_render_is_read_directly(texts: list[tuple[str, str]]) -> None:
    """All of it: a template change that falls back to libyaml would cost the speed silently."""
    assert len(texts) > 50
    slow = [name for name, text in texts if not agrees(text)]
    assert slow == []


# Documents in the templates' dialect: block mappings and sequences, every value JSON
# on its key's line, as `tojson` writes it or spelled otherwise.
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-05, 1e20, 1.5e300, 0.1, 2.5, 100.0]),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x2FFFF, exclude_categories=["Cs"])),
    st.sampled_from(["yes", "1e5", "a: b", "# c", "- x", '"q"', "\\", "{{ $value }}", "~"]),
)
flow = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)
keys = st.sampled_from(["a", "b", "expr", "labels", "rules", "yes", "on", "null", "_x", "k2"])
spellings = st.sampled_from(["tojson", "compact", "spaced"])


def _token(value: Any, spelling: str) -> str:
    if spelling == "tojson":
        return render.yaml_json(value, sort_keys=True)
    if spelling == "compact":
        return json.dumps(value, separators=(",", ":"))
    return json.dumps(value, indent=None, separators=(" , ", " : ")) + "  "


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines: list[str] = []

    def block(column: int, depth: int) -> None:
        if draw(st.booleans()) or depth > 2:
            mapping(column, depth)
        else:
            sequence(column, depth)

    def mapping(column: int, depth: int, dash: bool = False) -> None:
        for n in range(draw(st.integers(1, 4))):
            prefix = " " * (column - 2) + "- " if dash and n == 0 else " " * column
            key = draw(keys)
            if depth < 3 and draw(st.integers(0, 3)) == 0:
                lines.append(f"{prefix}{key}:")
                compact = draw(st.booleans())
                if compact:
                    sequence(column, depth + 1)
                else:
                    block(column + draw(st.sampled_from([1, 2, 4])), depth + 1)
            else:
                lines.append(f"{prefix}{key}: {_token(draw(flow), draw(spellings))}")
            if draw(st.integers(0, 5)) == 0:
                lines.append(draw(st.sampled_from(["", "  ", "# note", "    # note"])))

    def sequence(column: int, depth: int) -> None:
        for _ in range(draw(st.integers(1, 3))):
            if depth < 3 and draw(st.booleans()):
                mapping(column + 2, depth + 1, dash=True)
            else:
                lines.append(f"{' ' * column}- {_token(draw(flow), draw(spellings))}")

    block(0, 0)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=1000, deadline=None)
@given(documents())
def test_documents_of_the_dialect_read_as_libyaml_reads_them(text: str) -> None:
    agrees(text)


edits = st.tuples(
    st.integers(0, 10_000),
    st.sampled_from([*" -:#\"'{}[],\n\t\\0e.|>&*!", "\r", "\x07", "\x0b", "\x7f", "é"]),
)


@settings(max_examples=1000, deadline=None)
@given(documents(), st.lists(st.tuples(st.sampled_from(["insert", "delete"]), edits), max_size=3))
def test_broken_documents_are_read_as_libyaml_reads_them_or_left_to_it(
    text: str, changes: list[tuple[str, tuple[int, str]]]
) -> None:
    """One wrong character: yamlread must not read what libyaml refuses, or read it else."""
    for how, (at, char) in changes:
        at %= len(text) + 1
        text = text[:at] + char + text[at:] if how == "insert" else text[:at] + text[at + 1 :]
    try:
        got = yamlread.read(text)
    except yamlread.NotRead:
        return
    expected = libyaml(text)  # raising here means yamlread read an invalid document
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "text",
    [
        "k: 1e5\n",  # a string to YAML 1.1, a float to JSON
        "k: 1.5e10\n",  # no sign on the exponent: a string to YAML
        "k: NaN\n",
        "k: [1, Infinity]\n",
        "yes: 1\n",  # a boolean key
        "on: x\n",
        "null: x\n",
        'k: "\\ud83d\\ude00"\n',  # JSON's surrogate pair: not YAML
        "k:\t1\n",
        "k: 1\r\n",
        "---\nk: 1\n",
        'k: "x" # note\n',
        'k:"x"\n',
        'k:\n  "v"\n',  # a scalar below its key
        "  k: 1\n",  # an indented root
        "k: 1\n  j: 2\n",
        "- 1\nk: 2\n",
        "k: |\n  text\n",
        "k: &a 1\nj: *a\n",
        "k: é\n",
        "",
        "# only a comment\n",
        f"{'k' * 200}: 1\n",
        "# a bell\x07\nk: 1\n",  # YAML refuses control characters, in comments too
        '- "a"\x0b\n',
        'k: "a\x7f"\n',
    ],
)
def test_what_is_beyond_the_subset_is_left_to_libyaml(text: str) -> None:
    with pytest.raises(yamlread.NotRead):
        yamlread.read(text)
    try:
        expected = libyaml(text)
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            yamlio.load(text)
        return
    assert repr(yamlio.load(text)) == repr(expected)


@pytest.mark.parametrize(
    "text",
    [
        'groups:\n- name: "g"\n  rules:\n  - record: "r"\n    labels: {"a": "b"}\n',
        "a:\n- 1\n- [2, 3]\nb:\n    c: null\n    d: true\n",
        "- a: 1\n  b:\n  - c: -0.0\n- 2.5\n",
        'k: "\\u00e9\\/\\b\\u0000"\n',
        "k:\nj: {}\n",  # an empty value is null
        "k: 1\nk: 2\n",  # a repeated key: the last value, at the first place
    ],
)
def test_documents_of_the_dialect(text: str) -> None:
    assert agrees(text)


def test_a_long_document_is_read_as_libyaml_reads_it(tmp_path: Path) -> None:
    body = "".join(
        f'- record: "r{i}"\n  expr: "sum(x{i})"\n  labels: {{"i": {i}}}\n' for i in range(3000)
    )
    assert agrees("rules:\n" + body)
