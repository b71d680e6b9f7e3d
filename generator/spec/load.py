"""Stage 1: read spec files into plain data, remembering where every value came from.

PyYAML's composer gives nodes with marks; we construct the Python values ourselves so
that duplicate keys are errors (PyYAML keeps the last one silently) and so that every
value's path maps to its line for later error messages.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from generator.errors import Problem, SpecError
from generator.spec.inputs import display_path

__all__ = ["Document", "display_path", "load_file"]

# Bounds that keep a hostile or broken file from hanging a pre-commit hook.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000  # values after alias expansion ("billion laughs" stops here)
MAX_DEPTH = 50  # nested mappings and lists (later stages recurse; specs need about 8)
MAX_NESTING = 200  # flow collections open at once ([ and {), far beyond any real spec
_BRACKET = re.compile(r"[\[\]{}]")

Path_ = tuple[str | int, ...]

# Scalars become JSON values only: a date, binary or set would crash later stages.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Document:
    """One YAML document: its data and the line/column of every path in it."""

    file: str
    index: int
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_) -> tuple[int, int]:
        """Line and column of the closest known ancestor of path."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def problem(self, path: Path_, message: str) -> Problem:
        line, col = self.where(path)
        return Problem(self.file, line, col, format_path(path), message)


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.depth = 0
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.scalars = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str, path: Path_ = ()) -> SpecError:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return SpecError([Problem(self.file, line, col, format_path(path), message)])

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(
                node,
                f"the document holds more than {MAX_NODES} values once aliases are expanded; "
                "split it into smaller files, or remove repeated aliases",
            )
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(node, f"the YAML nests more than {MAX_DEPTH} levels; flatten it")
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.depth -= 1

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        """Only what JSON has: strings, finite numbers, booleans, null."""
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # a date where a string was meant; the schema says what fits
        if node.tag not in _PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise self.fail(node, f"the YAML tag {tag} is not supported here; remove it", path)
        try:
            value = self.scalars.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer with thousands of digits
            shown = f"{node.value[:20]}..."
            raise self.fail(node, f"the number {shown} is too long; shorten it", path) from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, f"'{node.value}' is not a finite number; write a number", path)
        if isinstance(value, str) and _SURROGATE.search(value):
            message = "the string holds a lone surrogate escape (\\ud800-\\udfff); remove it"
            raise self.fail(node, message, path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    value = self.build(source, path)
                    if not isinstance(value, dict):
                        raise self.fail(source, "a '<<' merge needs a mapping")
                    for k, v in value.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "keys must be plain strings, not lists or mappings")
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                raise self.fail(
                    key_node,
                    f"the key {key_node.value} reads as {json.dumps(key)}, not a string; "
                    f"quote it: '{key_node.value}'",
                    path,
                )
            if key in explicit:
                raise self.fail(
                    key_node, f"duplicate key '{key}'; YAML keeps only one, remove the other"
                )
            explicit.add(key)
            result[key] = self.build(value_node, (*path, key))
        for k, v in merged.items():
            result.setdefault(k, v)
        return result


def load_file(path: Path) -> list[Document]:
    """Every document of a spec file, or a SpecError naming file and line."""
    name = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(
                [
                    Problem(
                        name,
                        0,
                        0,
                        "",
                        f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit; "
                        "split it into one file per service",
                    )
                ]
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([Problem(name, 0, 0, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            [
                Problem(
                    name,
                    line,
                    1,
                    "",
                    f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                    "save the file as UTF-8",
                )
            ]
        ) from exc
    return load_text(text, name)


def too_deep(text: str) -> bool:
    """Flow nesting deeper than any parser here survives: LibYAML's composer recurses in C
    and crashes the process, PyYAML's runs out of Python stack after composing the rest."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False
    depth = deepest = 0
    for match in _BRACKET.finditer(text):  # an over-estimate: brackets in strings count too
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest > MAX_NESTING


def fast_loader() -> type[yaml.SafeLoader]:
    """LibYAML's loader when installed (about 10x faster), else pure Python."""
    return cast(type[yaml.SafeLoader], getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _compose(text: str) -> list[yaml.Node | None]:
    """Every document's node tree; YAML errors come from the pure-Python parser, whose
    messages are the ones users see (and tests pin)."""
    if too_deep(text):
        raise RecursionError
    try:
        return list(yaml.compose_all(text, Loader=fast_loader()))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def load_text(text: str, name: str) -> list[Document]:
    builder = _Builder(name)
    documents: list[Document] = []
    try:
        for index, node in enumerate(_compose(text)):
            if node is None:
                continue
            builder.positions = {}
            data = builder.build(node, ())
            documents.append(Document(name, index, data, builder.positions))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        if "'\\t'" in what:
            what += " (YAML indents with spaces, never tabs)"
        started = exc.context_mark
        if exc.context and started and mark and started.line != mark.line:
            what += f" ({exc.context} at line {started.line + 1})"
        raise SpecError(
            [Problem(name, line, col, "", f"YAML syntax error: {what}; fix the YAML there")]
        ) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow anywhere
        line = text[: exc.position].count("\n") + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"the control character U+{code:04X} is not allowed in YAML; remove it"
        raise SpecError([Problem(name, line, col, "", message)]) from exc
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError([Problem(name, 0, 0, "", f"YAML error: {first}")]) from exc
    except RecursionError as exc:
        raise SpecError(
            [Problem(name, 0, 0, "", "YAML nests too deeply; flatten the document")]
        ) from exc
    if not documents:
        raise SpecError(
            [Problem(name, 1, 1, "", "file is empty; write a service spec or delete the file")]
        )
    return documents
