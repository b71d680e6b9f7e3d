"""Stage 1: read spec files into plain data, remembering where every value came from.

PyYAML's composer gives nodes with marks; we construct the Python values ourselves so
that duplicate keys are errors (PyYAML keeps the last one silently) and so that every
value's path maps to its line for later error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import Problem, SpecError

# Bounds that keep a hostile or broken file from hanging a pre-commit hook.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000  # values after alias expansion ("billion laughs" stops here)

Path_ = tuple[str | int, ...]

# libyaml when PyYAML has it (every wheel does): the same nodes and marks, ten times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.scalars = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str) -> SpecError:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        return SpecError([Problem(self.file, line, col, "", message)])

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(
                node,
                f"the document expands to more than {MAX_NODES} values "
                "(an alias bomb?); split it or remove the repeated aliases",
            )
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalars.construct_object(node, deep=True)

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
            key = self.scalars.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise self.fail(key_node, f"keys must be strings, got {key!r}; quote it")
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


def load_text(text: str, name: str) -> list[Document]:
    builder = _Builder(name)
    documents: list[Document] = []
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None:
                continue
            builder.positions = {}
            data = builder.build(node, ())
            documents.append(Document(name, index, data, builder.positions))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context_mark and exc.context_mark != mark:
            what += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise SpecError(
            [Problem(name, line, col, "", f"YAML syntax error: {what}; fix the YAML at this line")]
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError([Problem(name, 0, 0, "", f"YAML error: {exc}")]) from exc
    except RecursionError as exc:
        raise SpecError(
            [Problem(name, 0, 0, "", "YAML nests too deeply; flatten the document")]
        ) from exc
    if not documents:
        raise SpecError(
            [Problem(name, 1, 1, "", "file is empty; write a service spec or delete the file")]
        )
    return documents


def display_path(path: Path) -> str:
    """A stable, machine-independent name for messages and output headers."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
