"""PyYAML (libyaml) for the rule files, with the Python halves of it made cheap.

With libyaml, parsing and emitting run in C, but building Python objects from nodes
(loading) and nodes from Python objects (dumping) still run PyYAML's generic Python
code: per value a dispatch, an alias check and an implicit-tag resolution. That was
two thirds of a run. Our rule data is plain (mappings, lists, strings, a few numbers),
so this module builds the same objects and nodes directly, and falls back to PyYAML's
own code for anything else (anchors and aliases, merge keys, tags, other types).
The result is the same as yaml.load/yaml.dump with the base classes, value for value
and byte for byte (tests/test_yamlio.py compares them on generated data).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

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
    return yaml.load(text, Loader=Loader)


def dump(data: Any) -> str:
    """Block style, keys in insertion order, unicode as is, no line folding."""
    return yaml.dump(
        data,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )
