"""The fast YAML paths give exactly what PyYAML gives: same values, same bytes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import yamlio

REFERENCE_LOADER = yamlio.BaseLoader
REFERENCE_DUMPER = type("ReferenceDumper", (yamlio.BaseDumper,), {})
REFERENCE_DUMPER.add_representer(
    str,
    lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None),
)


def reference_dump(data: Any) -> str:
    """What render.dump did before: yaml.dump with PyYAML's own representer."""
    return yaml.dump(
        data,
        Dumper=REFERENCE_DUMPER,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )


# Strings that stress scalar styles: YAML keywords, numbers, indicators, newlines,
# trailing spaces, quotes, unicode, PromQL and Go templates.
tricky = st.sampled_from(
    [
        "",
        "yes",
        "No",
        "null",
        "~",
        "true",
        "0",
        "012",
        "1e3",
        "1.5",
        ".inf",
        "0x1F",
        "2024-01-01",
        "- a",
        "a: b",
        "#c",
        "&a",
        "*a",
        "!t",
        "%",
        "@",
        "`",
        "{x}",
        "[x]",
        "a\nb",
        "a\n",
        "\n",
        " lead",
        "trail ",
        "a  \nb",
        "tab\there",
        "é ü ✓",
        "\u2028",
        'say "hi"',
        "it's",
        "{{ $value | humanize }}",
        'sum(rate(x{code=~"5.."}[5m])) > 0.1',
        "=",
        "<<",
        "?",
        "|",
        ">",
        "a\r\nb",
        "\x07bell",
        "a #b",
        "a#b",
        "a:",
        "a:b",
        "-a",
        "?a",
        ":a",
        "---x",
        "...",
        "\na",
        "\n a",
        " \na",
        "a\n\n",
        "a\n\nb\n",
        "  x\n y",
        "k: v\n- i",
        "'q'",
    ]
)
text = st.one_of(tricky, st.text(max_size=40), st.text(alphabet="ab :-#\n'\"{}[]", max_size=30))
scalar = st.one_of(text, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
data = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(data)
def test_dump_is_byte_identical_to_pyyaml(value: Any) -> None:
    assert yamlio.dump(value) == reference_dump(value)


# Printable ASCII with YAML's indicators, spaces and newlines, under plain keys: the
# data our direct writer takes (the strategy above mostly sends it to libyaml).
ascii_text = st.one_of(
    tricky, st.text(alphabet="ab09 :-#\n'\"{}[]?.,&*!|>%@`~=<+_etrufalsny", max_size=12)
)
ascii_data = st.recursive(
    st.one_of(ascii_text, st.integers(), st.booleans(), st.none(), st.floats()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "expr", "k-1", "for", "0"]), inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(st.sampled_from(["groups", "rules", "x"]), ascii_data, min_size=1))
def test_direct_writer_is_byte_identical_to_pyyaml(value: dict[str, Any]) -> None:
    expected = reference_dump(value)
    assert yamlio.dump(value) == expected
    try:
        written = yamlio._write(value)
    except yamlio._NotPlain:
        return  # libyaml's way, checked above
    assert written == expected


GENERATED = sorted((ROOT / "out").glob("*/*.yml")) + sorted((ROOT / "out").glob("*/*.yaml"))


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_generated_files_take_the_direct_way(path: Any) -> None:
    """Our own files must not fall back to libyaml: that would cost the speed silently."""
    body = "".join(line for line in path.read_text().splitlines(True) if not line.startswith("#"))
    assert yamlio._write(yamlio.load(body)) == body


@settings(max_examples=400, deadline=None)
@given(data)
def test_load_gives_what_pyyaml_gives(value: Any) -> None:
    for rendered in (reference_dump(value), yaml.dump(value, default_flow_style=True)):
        expected = yaml.load(rendered, Loader=REFERENCE_LOADER)
        got = yamlio.load(rendered)
        assert got == expected
        assert repr(got) == repr(expected)  # same types too (1 vs 1.0 vs True)


@pytest.mark.parametrize(
    "document",
    [
        "a: &x {b: 1}\nc: *x\n",  # aliases share one object
        "base: &b {x: 1}\nitem: {<<: *b, y: 2}\n",  # merge keys
        "a: !!set {x, y}\n",
        "a: !!omap [{x: 1}]\n",
        "? [a, b]\n: c\n",  # a complex key: PyYAML raises, so must we
        "1: one\n2.5: two\nnull: three\n",  # keys that are not strings
        "a: 2024-01-01\nb: 0o17\nc: =\n",
        "",
        "just a scalar\n",
    ],
)
def test_documents_beyond_plain_data_take_pyyaml_path(document: str) -> None:
    try:
        expected = yaml.load(document, Loader=REFERENCE_LOADER)
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)):
            yamlio.load(document)
        return
    got = yamlio.load(document)
    assert repr(got) == repr(expected)
    assert yamlio.dump(got) == reference_dump(expected)


def test_shared_objects_dump_with_anchors_like_pyyaml() -> None:
    shared = {"k": "v"}
    value = {"a": shared, "b": [shared, shared]}
    assert yamlio.dump(value) == reference_dump(value)
    assert "&id001" in yamlio.dump(value)
