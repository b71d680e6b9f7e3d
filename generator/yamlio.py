"""PyYAML (libyaml) for the rule files, with the Python halves of it made cheap.

With libyaml, parsing and emitting run in C, but building Python objects from nodes
(loading) and nodes from Python objects (dumping) still run PyYAML's generic Python
code: per value a dispatch, an alias check and an implicit-tag resolution. That was
two thirds of a run. Our rule data is plain (mappings, lists, strings, a few numbers),
so this module reads what the templates render without libyaml (generator/yamlread.py)
and builds other plain documents from libyaml's nodes directly, writes the text itself
when dumping, and falls back to PyYAML's own code for anything else (anchors and
aliases, merge keys, tags, other types, characters beyond printable ASCII). The result
is the same as yaml.load/yaml.dump with the base classes, value for value and byte for
byte (tests/test_yamlio.py and tests/test_yamlread.py compare them on generated data,
on what the templates render and on out/).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from generator import yamlread

BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BaseDumper: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

STR = "tag:yaml.org,2002:str"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"


class _NotPlain(Exception):
    """The data or document needs PyYAML's general code (aliases, merges, tags...)."""


class Loader(BaseLoader):  # type: ignore[misc]
    """yaml.SafeLoader's result, built without its generic constructor when plain."""

    def construct_document(self, node: Node) -> Any:
        try:
            return self._plain(node, set())
        except _NotPlain:
            self.constructed_objects: dict[Node, Any] = {}
            return super().construct_document(node)

    def _plain(self, node: Node, seen: set[int]) -> Any:
        tag = node.tag
        if isinstance(node, ScalarNode):
            # Strings as they are; ints, floats, booleans, nulls by SafeLoader's rules.
            return node.value if tag == STR else self.construct_object(node, deep=True)
        if id(node) in seen:  # an alias: SafeLoader shares the object, we would copy it
            raise _NotPlain
        seen.add(id(node))
        if isinstance(node, SequenceNode) and tag == SEQ:
            return [self._plain(item, seen) for item in node.value]
        if isinstance(node, MappingNode) and tag == MAP:
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not (isinstance(key_node, ScalarNode) and key_node.tag == STR):
                    raise _NotPlain  # merge keys, '=' keys, complex or typed keys
                mapping[key_node.value] = self._plain(value_node, seen)
            return mapping
        raise _NotPlain


class Dumper(BaseDumper):  # type: ignore[misc]
    """yaml.SafeDumper's output; multi-line strings as literal blocks."""

    def represent_data(self, data: Any) -> Node:
        if self.__dict__.get("_general"):
            return super().represent_data(data)  # type: ignore[no-any-return]
        try:
            return self._plain(data, set())
        except _NotPlain:
            self._general = True  # this document, all of it, the general way
            return super().represent_data(data)  # type: ignore[no-any-return]

    def _plain(self, data: Any, seen: set[int]) -> Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(STR, data, style="|" if "\n" in data else None)
        if kind in (int, float, bool) or data is None:
            return super().represent_data(data)  # type: ignore[no-any-return]
        if id(data) in seen:  # shared: SafeDumper writes an anchor and an alias
            raise _NotPlain
        seen.add(id(data))
        # Block style everywhere (default_flow_style=False), keys in insertion order.
        if kind is dict:
            pairs = [(self._plain(k, seen), self._plain(v, seen)) for k, v in data.items()]
            return MappingNode(MAP, pairs, flow_style=False)
        if kind is list:
            return SequenceNode(SEQ, [self._plain(v, seen) for v in data], flow_style=False)
        raise _NotPlain


def _literal_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """The general path's str: the same node Dumper._plain builds."""
    return dumper.represent_scalar(STR, value, style="|" if "\n" in value else None)


Dumper.add_representer(str, _literal_str)


def load(text: str) -> Any:
    """yaml.safe_load: what the templates render directly (generator/yamlread.py), the
    rest by libyaml."""
    try:
        return yamlread.read(text)
    except (yamlread.NotRead, RecursionError):
        return yaml.load(text, Loader=Loader)


# Direct writing. Even from nodes, libyaml's emitter costs a Python event per value; the
# text of plain data in block style is simple enough to write here. What this writes is
# what libyaml writes with dump()'s settings: block style, indent 2, no folding (the
# width is unbounded), single quotes where a plain scalar would not read back as the same
# string, literal blocks for multi-line strings. It covers printable ASCII only, no
# shared objects and literal blocks without kept trailing newlines; anything else raises
# _NotPlain and the whole document takes libyaml's way (tests/test_yamlio.py).
_PLAIN_NEVER_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
_written: dict[str, str] = {}  # scalar text by string: rule files repeat their labels
_SCALARS = yaml.representer.SafeRepresenter()  # numbers, booleans and null as SafeDumper


def _plain_reads_back(value: str) -> bool:
    """A plain scalar in block context that reads back as this same string."""
    first = value[:1]
    if (
        not value
        or first in _PLAIN_NEVER_FIRST
        or (first in "?:-" and value[1:2] in ("", " "))
        or value.startswith(("---", "..."))
        or value[0] == " "
        or value[-1] in " :"
        or ": " in value
        or " #" in value
    ):
        return False
    # Not if it would read back as a number, a boolean, null...
    return yamlread.resolves_to_str(value)


def _line(value: str) -> str:
    """A one-line string as written: plain, or single-quoted."""
    got = _written.get(value)
    if got is None:
        if not (value.isascii() and value.isprintable()):
            raise _NotPlain
        got = value if _plain_reads_back(value) else "'" + value.replace("'", "''") + "'"
        if len(_written) < 100_000:
            _written[value] = got
    return got


def _literal(value: str, column: int, out: list[str]) -> None:
    """A multi-line string as a literal block, its lines at column + 2."""
    if (
        not value.isascii()
        or not value.replace("\n", "").isprintable()
        or " \n" in value
        or value[-1] == " "
        or value.endswith("\n\n")
        or value == "\n"
    ):
        raise _NotPlain  # kept newlines, trailing spaces or special characters
    hints = "|2" if value[0] in " \n" else "|"
    if value[-1] == "\n":
        value = value[:-1]
    else:
        hints += "-"
    out.append(hints + "\n")
    indent = " " * (column + 2)
    for line in value.split("\n"):
        out.append(indent + line + "\n" if line else "\n")


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _line(value)
    if kind in (int, float, bool) or value is None:
        text: str = _SCALARS.represent_data(value).value  # PyYAML's spelling of it
        return text
    raise _NotPlain


def _value(value: Any, column: int, out: list[str], seen: set[int]) -> None:
    """What follows a key's colon or a dash: the rest of that line, then any lines below."""
    kind = type(value)
    if kind is str and "\n" in value:
        out.append(" ")
        _literal(value, column, out)
    elif kind is dict and value:
        out.append("\n")
        _mapping(value, column + 2, False, out, seen)
    elif kind is list and value:
        out.append("\n")
        _sequence(value, column, False, out, seen)
    elif kind is dict or kind is list:
        out.append(" {}\n" if kind is dict else " []\n")
    else:
        out.append(" " + _scalar(value) + "\n")


def _shared(data: Any, seen: set[int]) -> None:
    if id(data) in seen:  # PyYAML writes an anchor and an alias
        raise _NotPlain
    seen.add(id(data))


def _mapping(
    data: dict[Any, Any], column: int, inline: bool, out: list[str], seen: set[int]
) -> None:
    _shared(data, seen)
    indent = " " * column
    for key, value in data.items():
        if type(key) is not str or len(key) > 128 or _line(key) != key:
            raise _NotPlain  # only plain simple keys here
        out.append(key + ":" if inline else indent + key + ":")
        inline = False
        _value(value, column, out, seen)


def _sequence(data: list[Any], column: int, inline: bool, out: list[str], seen: set[int]) -> None:
    _shared(data, seen)
    indent = " " * column
    for item in data:
        out.append("-" if inline else indent + "-")
        inline = False
        kind = type(item)
        if kind is dict and item:
            out.append(" ")
            _mapping(item, column + 2, True, out, seen)
        elif kind is list and item:
            out.append(" ")
            _sequence(item, column + 2, True, out, seen)
        else:
            _value(item, column, out, seen)


def _write(data: Any) -> str:
    if type(data) is not dict or not data:
        raise _NotPlain
    out: list[str] = []
    _mapping(data, 0, False, out, set())
    return "".join(out)


def dump(data: Any) -> str:
    """Block style, keys in insertion order, unicode as is, no line folding."""
    try:
        return _write(data)
    except (_NotPlain, RecursionError):
        pass
    return yaml.dump(
        data,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )
