"""Which files a run reads and writes: spec discovery, defaults and Alertmanager files,
the files of a generated tree.

Kept free of heavy imports (no YAML, Jinja, jsonschema or Grafana SDK): the cache
(`generator/outputs/cache.py`) names a run's inputs with these same functions before deciding
whether to compile at all, so the cache and the compiler can never disagree about which
files a run reads.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from generator import conventions
from generator.errors import Problem, SpecError

SPEC_SUFFIXES = (".yaml", ".yml")
DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")
GENERATED_MARK = conventions.GENERATED_HEADER.split("{", 1)[0].encode()


def display_path(path: Path) -> str:
    """A stable, machine-independent name for messages and output headers."""
    return _display(os.fspath(path), os.getcwd())


@lru_cache(maxsize=1 << 16)
def _display(path: str, cwd: str) -> str:
    # Cached as real() is: a run names each spec in three keys, its discovery and sort.
    try:
        return _real(path, cwd).relative_to(_real(".", cwd)).as_posix()
    except (ValueError, OSError, RuntimeError):  # outside cwd; a symlink loop
        return Path(path).as_posix()


def real(path: Path) -> Path:
    """path.resolve(), looked up once per process and working directory: a run names
    every spec several times (cache keys, discovery, messages), and resolving walks
    every component of the path."""
    return _real(os.fspath(path), os.getcwd())


@lru_cache(maxsize=1 << 16)
def _real(path: str, cwd: str) -> Path:
    return Path(path).resolve()


def is_spec(path: Path) -> bool:
    name = path.name
    return (
        name.endswith(SPEC_SUFFIXES)
        and not name.startswith(("_", "."))
        and not name.endswith((".test.yml", ".test.yaml"))
    )


def discover(paths: list[Path], exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """(spec file, root it was found under), sorted so file order never matters.

    Directories are searched recursively, skipping hidden ones and `exclude` (out/)."""
    found: dict[Path, Path] = {}
    missing = []
    skip = exclude.resolve() if exclude else None
    for arg in paths:
        if arg.is_dir():
            for p in sorted(arg.rglob("*")):
                rel = p.relative_to(arg).parts
                if any(part.startswith(".") for part in rel[:-1]):
                    continue
                if skip and real(p).is_relative_to(skip):
                    continue
                if p.is_file() and is_spec(p) and not _generated(p):
                    found.setdefault(p, arg)
        elif arg.is_file():
            # `promspec generate specs/*.yaml` names _defaults.yaml and hand-written tests
            # too: they belong to the specs beside them and are read as such, not as specs.
            if arg.name.startswith("_") or arg.name.endswith((".test.yml", ".test.yaml")):
                continue
            found.setdefault(arg, arg.parent)
        elif arg.exists():
            missing.append(Problem(display_path(arg), 0, 0, "", "not a file or directory of specs"))
        else:
            missing.append(Problem(display_path(arg), 0, 0, "", "no such file or directory"))
    if missing:
        raise SpecError(missing)
    return sorted(found.items(), key=lambda item: display_path(item[0]))


def _generated(path: Path) -> bool:
    """Our own output (it starts with the header) is never read back as a spec."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(GENERATED_MARK)) == GENERATED_MARK
    except OSError:
        return False  # unreadable: loading it reports the problem with its name


def find_defaults(spec: Path, root: Path) -> Path | None:
    """The nearest _defaults.yaml from the spec's directory up to the root it was found
    under."""
    here, stop = real(spec).parent, real(root)
    while True:
        for name in DEFAULTS_NAMES:
            if (here / name).is_file():
                return here / name
        if here == stop or here.parent == here:
            return None
        here = here.parent


def find_alertmanager_file(paths: list[Path]) -> Path | None:
    """The user's Alertmanager file beside the specs (first spec directory that has one)."""
    for arg in paths:
        folder = arg if arg.is_dir() else arg.parent
        for name in conventions.ALERTMANAGER_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """Every file under root as (path relative to root, path), sorted; [] without root."""
    if not root.is_dir():
        return []
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*")) if p.is_file()]
