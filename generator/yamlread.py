"""Reading what the templates render, without libyaml when it is simple enough.

The rule and test templates write block mappings and sequences whose every value is on
its key's line as JSON (the `tojson` filter, `render.yaml_json`). libyaml parses such a
file in C, but PyYAML then builds a Python node per value, and constructs the data from
the nodes, in Python: ~13 ms for one service's 80 KB of rules, a sixth of its compile.
The structure of such a file is its indentation, and its values are JSON, which C reads
quickly: the same rules take ~2 ms here. `read` takes that subset and nothing else:
anything it is not sure libyaml reads the same way raises NotRead, and the caller gives
the text to libyaml, which also words the errors (tests/test_yamlread.py holds both to
the same results).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json import scanner
from typing import Any

from yaml.resolver import Resolver


class NotRead(Exception):
    """Beyond the subset: libyaml must read this text."""


# One line: indentation, a dash, a plain key and its value, or a dash and a value; in
# printable ASCII (no tabs, carriage returns, or the characters YAML breaks lines on or
# refuses). YAML's simple keys end within 1,024 characters; keys here are short.
_ENTRY = re.compile(
    r"( *)(?:(- )?([A-Za-z_][A-Za-z0-9_]{0,127}):(?: +([ -~]*))?|- +([!-~][ -~]*))\Z"
)
_COMMENT = re.compile(r" *#[ -~]*\Z")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # JSON's escapes of them are not YAML
# The floats YAML 1.1 reads as floats: a dot, and a sign on any exponent. JSON's others
# (1e5, 1.5e10) are strings to YAML.
_YAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+(?:[eE][-+][0-9]+)?\Z")
_keys: dict[str, bool] = {}  # plain key -> whether YAML reads it as that string


def _float(text: str) -> float:
    if not _YAML_FLOAT.match(text):
        raise NotRead
    return float(text)


def _constant(text: str) -> Any:
    raise NotRead  # NaN, Infinity: not JSON's to YAML


# The decoder's own C scanner: one value at an index, without decode()'s Python around it.
_DECODER: Any = json.JSONDecoder(parse_float=_float, parse_constant=_constant)
_SCAN: Callable[[str, int], tuple[Any, int]] = scanner.make_scanner(_DECODER)


def _json(text: str) -> Any:
    """One JSON value, and nothing after it but spaces."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError) as exc:
        raise NotRead from exc
    if end != len(text) and not text[end:].isspace():
        raise NotRead
    return value


def resolves_to_str(plain: str) -> bool:
    """Whether YAML 1.1 reads this plain scalar as a string: not yes, on, null, 1e3..."""
    implicit = Resolver.yaml_implicit_resolvers
    resolvers = [*implicit.get(plain[:1], ()), *implicit.get(None, ())]
    return not any(regexp.match(plain) for _tag, regexp in resolvers)


def _key(key: str) -> str:
    plain = _keys.get(key)
    if plain is None:
        plain = resolves_to_str(key)
        if len(_keys) < 10_000:
            _keys[key] = plain
    if not plain:
        raise NotRead
    return key


def _entries(text: str) -> list[list[Any]]:
    entries = []
    for line in text.split("\n"):
        content = line.lstrip(" ")
        if not content:
            continue
        if content[0] == "#":
            if not _COMMENT.match(line):
                raise NotRead
            continue
        match = _ENTRY.match(line)
        if match is None:
            raise NotRead
        indent, dash, key, value, item = match.groups()
        if key is None:
            entries.append([len(indent), True, None, item])
        else:
            entries.append([len(indent), dash is not None, key, value or None])
    return entries


def _node(entries: list[list[Any]], i: int) -> tuple[Any, int]:
    if entries[i][1]:
        return _sequence(entries, i, entries[i][0])
    return _mapping(entries, i, entries[i][0])


def _mapping(entries: list[list[Any]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    mapping: dict[str, Any] = {}
    end = len(entries)
    while i < end and entries[i][0] == indent and not entries[i][1]:
        key, value = _key(entries[i][2]), entries[i][3]
        i += 1
        if value is not None:
            mapping[key] = _json(value)
        elif i < end and (entries[i][0] > indent or (entries[i][0] == indent and entries[i][1])):
            # the block below the key: deeper, or a sequence at the key's own column
            mapping[key], i = _node(entries, i)
        else:
            mapping[key] = None
    return mapping, i


def _sequence(entries: list[list[Any]], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    end = len(entries)
    while i < end and entries[i][0] == indent and entries[i][1]:
        entry = entries[i]
        if entry[2] is None:
            items.append(_json(entry[3]))
            i += 1
        else:
            # "- key: value": a mapping whose keys stand two columns right of the dash
            entries[i] = [indent + 2, False, entry[2], entry[3]]
            item, i = _mapping(entries, i, indent + 2)
            items.append(item)
    return items, i


def read(text: str) -> Any:
    """The data of `text` as yaml.safe_load gives it, or NotRead."""
    if "\\u" in text and _SURROGATE.search(text):
        raise NotRead
    entries = _entries(text)
    if not entries or entries[0][0] != 0:
        raise NotRead
    data, i = _node(entries, 0)
    if i != len(entries):
        # A line no block took: deeper than its place allows, a dash among keys, a key
        # after a list... Each block takes only lines at its own column, so such a line
        # ends every block down to the root.
        raise NotRead
    return data
