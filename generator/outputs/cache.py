"""A local cache of what out/ must hold, so `promspec check` answers without compiling.

Like mypy's or ruff's cache: a git-ignored directory (`.promspec_cache/` in the working
directory; `--cache-dir` or PROMSPEC_CACHE_DIR to move it, `--no-cache` or
PROMSPEC_NO_CACHE=1 to turn it off). One entry per run key; the entry lists the path and
sha256 of every file out/ must hold, how many services the specs define, the warnings
of the compile, and which promtool accepted the rules (if one did).

The key is a sha256 over everything that shapes the output or decides whether a run
succeeds:
- the name and bytes of every spec file the run reads (found by the same discovery as
  the compiler, generator/spec/inputs.py), and of the defaults file each one uses;
- the user's templates (`--templates`: every file's name and bytes) and the Alertmanager
  file (`--format alertmanager`);
- every output flag (`--format`, namespace, operator name and labels, Mimir and Thanos
  options), the spec arguments, the working directory and out/;
- promspec's own code: the bytes of every file of the package and of its templates, so
  an edited checkout never trusts an old entry;
- the Python version and the name-version of every installed distribution
  (promql-parser, grafana-foundation-sdk, PyYAML with its libyaml, Jinja2, jsonschema,
  ... and any other: an upgrade of anything misses once, never answers wrongly).

Entries are stored only after a run compiled successfully, and the key covers the
spec bytes, so an entry can never vouch for an invalid spec: `check` on a hit still
fails for every spec that the full compile would reject (it misses and compiles).
The key is computed again after compiling and the entry stored only when it did not
change, so a spec edited during a run is never cached with the output of its old text.

A missing, unreadable, corrupt or foreign entry is a miss, never an error; a cache
directory that cannot be written is skipped. Entries are written to a temporary file
and renamed into place, so concurrent runs read a whole entry or none; an entry's first
line carries the sha256 of the rest, so a truncated or altered file is detected.

Imports are kept to the standard library on the hit path: interpreter start and imports
are most of what a hit costs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import SpecError
from generator.spec import inputs

DEFAULT_DIR = ".promspec_cache"
DIR_ENV = "PROMSPEC_CACHE_DIR"
DISABLE_ENV = "PROMSPEC_NO_CACHE"
FORMAT = 1  # bumped when the entry layout or the key's recipe changes
ENTRIES = f"v{FORMAT}"
STATS = f"stat-v{FORMAT}"  # per out/ directory: each file's stat and digest (hash_tree)
MAGIC = b"promspec-cache"
KEEP_ENTRIES = 32  # newest kept; older ones are removed when an entry is stored
_HEX = frozenset("0123456789abcdef")


@dataclass
class Entry:
    """What a successful compile with this key produced."""

    files: dict[str, str]  # path under out/ -> sha256 of its bytes
    services: int
    warnings: list[str] = field(default_factory=list)
    promtool: str | None = None  # identity of the promtool that accepted the rules


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_files(files: dict[str, bytes]) -> dict[str, str]:
    return {path: sha256(content) for path, content in files.items()}


def hash_tree(root: Path, folder: Path | None = None) -> dict[str, str]:
    """path -> sha256 of every file under root, read one at a time.

    With a cache folder, as git's index does: each file's digest is kept with its stat
    (size, mtime, ctime, inode, device) and the file is read again only when that changed.
    Any write, touch, chmod or rename changes ctime, which no one can set back, so an edit
    that keeps the size and restores the mtime is still read. A file changed less than
    RACY_NS ago is not kept (git's "racily clean" files): a second write within the same
    clock tick would leave its stat as it was."""
    record = None if folder is None else _stats_path(folder, root)
    known = {} if record is None else _load_stats(record)
    digests: dict[str, str] = {}
    kept: dict[str, list[Any]] = {}
    settled = _now_ns() - RACY_NS
    for rel, p in inputs.tree_files(root):
        st = p.stat()
        mark = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
        previous = known.get(rel)
        if previous is not None and previous[0] == mark:
            digests[rel] = previous[1]
        else:
            digests[rel] = sha256(p.read_bytes())
        if max(st.st_mtime_ns, st.st_ctime_ns) < settled:
            kept[rel] = [mark, digests[rel]]
    if record is not None and kept != known:
        _store_stats(record, kept)
    return digests


RACY_NS = 2_000_000_000  # far above any file system's timestamp tick


def _now_ns() -> int:
    import time

    return time.time_ns()


def _stats_path(folder: Path, root: Path) -> Path:
    return folder / STATS / f"{sha256(str(root.resolve()).encode())}.json"


def _load_stats(record: Path) -> dict[str, list[Any]]:
    """The kept stat and digest of each file; {} when missing, corrupt or foreign."""
    try:
        head, _, body = record.read_bytes().partition(b"\n")
        if head != MAGIC + b" " + sha256(body).encode():
            return {}
        data = json.loads(body)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        rel: kept
        for rel, kept in data.items()
        if isinstance(kept, list) and len(kept) == 2 and isinstance(kept[1], str)
    }


def _store_stats(record: Path, kept: dict[str, list[Any]]) -> None:
    body = json.dumps(kept, sort_keys=True).encode("utf-8")
    _prepare(record.parent)
    write_atomically(record, MAGIC + b" " + sha256(body).encode() + b"\n" + body)


def overlaps(folder: Path, out: Path) -> bool:
    """The cache directory is inside out/, or out/ inside it: not usable."""
    a, b = folder.resolve(), out.resolve()
    return a.is_relative_to(b) or b.is_relative_to(a)


def promtool_identity() -> str | None:
    """The promtool a run would use (the one on PATH), by real path, size and mtime."""
    tool = shutil.which("promtool")
    if tool is None:
        return None
    real = os.path.realpath(tool)
    try:
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def _code_files() -> list[tuple[str, Path]]:
    """Every file of the installed package and of its templates (no bytecode)."""
    import importlib.util

    roots = [("generator", Path(__file__).resolve().parents[1])]
    spec = importlib.util.find_spec("generator.templates")
    for location in (spec.submodule_search_locations or []) if spec else []:
        roots.append(("generator.templates", Path(location).resolve()))
    return [
        (f"{name}/{rel}", p)
        for name, root in roots
        for rel, p in inputs.tree_files(root)
        if "__pycache__" not in rel and not rel.endswith((".pyc", ".pyo"))
    ]


def _distributions() -> list[str]:
    """name-version of every installed distribution (their .dist-info directories)."""
    names: set[str] = set()
    for entry in sys.path:
        if Path(entry).name not in ("site-packages", "dist-packages"):
            continue
        with contextlib.suppress(OSError), os.scandir(entry) as found:
            names.update(e.name for e in found if e.name.endswith((".dist-info", ".egg-info")))
    return sorted(names)


class Digests:
    """sha256 of each file's bytes, read once per instance (one pass over the inputs)."""

    def __init__(self) -> None:
        self.seen: dict[Path, str] = {}

    def __call__(self, path: Path) -> str:
        resolved = inputs.real(path)
        if resolved not in self.seen:
            self.seen[resolved] = sha256(resolved.read_bytes())
        return self.seen[resolved]

    def named(self, path: Path | None) -> list[str] | None:
        return None if path is None else [inputs.display_path(path), self(path)]


def _environment(
    digest: Digests,
    *,
    out: Path,
    templates: Path | None,
    alertmanager: Path | None,
    flags: dict[str, Any],
) -> dict[str, Any]:
    """What shapes every service's output besides its own spec and defaults."""
    user_templates = None
    if templates is not None:
        user_templates = [[rel, digest(p)] for rel, p in inputs.tree_files(templates)]
    return {
        "format": FORMAT,
        "code": [[rel, digest(p)] for rel, p in _code_files()],
        "python": [sys.version, sys.platform, sys.implementation.cache_tag],
        "distributions": _distributions(),
        "cwd": str(Path.cwd().resolve()),
        "out": str(out.resolve()),
        "templates": user_templates,
        "alertmanager": digest.named(alertmanager),
        "flags": flags,
    }


def _hash_recipe(recipe: Any) -> str:
    return sha256(json.dumps(recipe, sort_keys=True).encode("utf-8"))


def run_key(
    *,
    specs: list[Path],
    out: Path,
    defaults: Path | None,
    templates: Path | None,
    alertmanager: Path | None,
    flags: dict[str, Any],
    discovered: list[tuple[Path, Path]] | None = None,
) -> str:
    """The key of a run; raises OSError or SpecError when its inputs cannot be read (the
    compile then reports it as it always does). discovered: the specs' discovery, when the
    run made it already (the compile then reads exactly the files named here)."""
    digest = Digests()
    spec_files = []
    for spec, root in inputs.discover(specs, out) if discovered is None else discovered:
        org = defaults or inputs.find_defaults(spec, root)
        spec_files.append([digest.named(spec), digest.named(org)])
    recipe = _environment(
        digest, out=out, templates=templates, alertmanager=alertmanager, flags=flags
    )
    recipe.update(
        arguments=[str(p) for p in specs], specs=spec_files, defaults=digest.named(defaults)
    )
    return _hash_recipe(recipe)


def environment_key(
    *, out: Path, templates: Path | None, alertmanager: Path | None, flags: dict[str, Any]
) -> str:
    """The part of every spec file's key (generator/outputs/spec_cache.py) that all share."""
    recipe = _environment(
        Digests(), out=out, templates=templates, alertmanager=alertmanager, flags=flags
    )
    return _hash_recipe(recipe)


def spec_key(environment: str, spec: Path, defaults: Path | None, digest: Digests) -> str:
    """The key of one spec file's entry: the shared part, the spec and its defaults file
    (a defaults file many specs share is read once per `digest`)."""
    return _hash_recipe([environment, digest.named(spec), digest.named(defaults)])


def _entry_path(folder: Path, key: str) -> Path:
    return folder / ENTRIES / f"{key}.json"


def load(folder: Path, key: str) -> Entry | None:
    """The entry of key, or None: missing, unreadable, corrupt and foreign entries alike."""
    try:
        raw = _entry_path(folder, key).read_bytes()
        head, _, body = raw.partition(b"\n")
        if head != MAGIC + b" " + sha256(body).encode():
            return None
        data = json.loads(body)
    except (OSError, ValueError):
        return None
    return _entry(data, key)


def _entry(data: Any, key: str) -> Entry | None:
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    files, services = data.get("files"), data.get("services")
    warnings, promtool = data.get("warnings"), data.get("promtool")
    if not (
        isinstance(files, dict)
        and all(
            isinstance(p, str) and isinstance(h, str) and len(h) == 64 and set(h) <= _HEX
            for p, h in files.items()
        )
        and type(services) is int
        and isinstance(warnings, list)
        and all(isinstance(w, str) for w in warnings)
        and (promtool is None or isinstance(promtool, str))
    ):
        return None
    return Entry(files, services, warnings, promtool)


def store(folder: Path, key: str, entry: Entry) -> None:
    """Write the entry atomically; any failure leaves the cache as it was (never raises
    for a file-system problem: the cache is an optimisation)."""
    existing = load(folder, key)
    if entry.promtool is None and existing is not None and existing.files == entry.files:
        entry.promtool = existing.promtool  # `check` never runs promtool: keep generate's
    body = json.dumps(
        {
            "format": FORMAT,
            "key": key,
            "services": entry.services,
            "files": entry.files,
            "warnings": entry.warnings,
            "promtool": entry.promtool,
        },
        sort_keys=True,
    ).encode("utf-8")
    _prepare(folder / ENTRIES)
    if write_atomically(
        _entry_path(folder, key), MAGIC + b" " + sha256(body).encode() + b"\n" + body
    ):
        _prune(folder / ENTRIES)


def _prepare(directory: Path) -> None:
    """Make a directory of the cache folder, the folder marked as a cache."""
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        _mark(directory.parent)


def write_atomically(path: Path, data: bytes) -> bool:
    """Write through a temporary file renamed into place, so a reader sees all or nothing;
    False (and nothing left behind) on any file-system problem."""
    import tempfile

    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _mark(folder: Path) -> None:
    """Keep the directory out of git and of backups, as mypy and ruff do."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by promspec automatically.\n*\n")
    tag = folder / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by promspec.\n"
        )


def _prune(entries: Path) -> None:
    found = []
    for p in entries.glob("*.json"):
        with contextlib.suppress(OSError):
            found.append((p.stat().st_mtime_ns, p))
    for _, p in sorted(found, reverse=True)[KEEP_ENTRIES:]:
        with contextlib.suppress(OSError):
            p.unlink()


class RunCache:
    """The cache as one command uses it: look up once, store after success.

    `key_of` names the run's inputs; when it cannot (a spec directory is missing, a file
    unreadable), the run is a miss and stores nothing, and the compile reports the
    problem as it always does."""

    def __init__(self, folder: Path | None, key_of: Callable[[], str]) -> None:
        self.folder = folder
        self.key_of = key_of
        self.key = self._key()

    def _key(self) -> str | None:
        if self.folder is None:
            return None
        try:
            return self.key_of()
        except (OSError, SpecError, ValueError):
            return None

    def entry(self) -> Entry | None:
        if self.folder is None or self.key is None:
            return None
        found = load(self.folder, self.key)
        if found is not None:
            with contextlib.suppress(OSError):
                os.utime(_entry_path(self.folder, self.key))  # recently used: kept longest
        return found

    def store(self, entry: Entry) -> None:
        if self.folder is None or self.key is None:
            return
        # The inputs must not have changed while compiling (a spec saved mid-run).
        if self._key() != self.key:
            return
        store(self.folder, self.key, entry)
