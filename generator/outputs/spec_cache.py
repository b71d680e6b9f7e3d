"""Per spec file: what it compiled to, so a run compiles only the spec files that changed.

The run cache (generator/outputs/cache.py) answers when nothing changed at all. In a large repo a
commit changes a few specs, and that is a miss for the whole run; this cache keeps one
entry per spec file, so such a run compiles those files only and takes the rest as they
were.

An entry's key is a sha256 over the spec file (name and bytes), its defaults file (name
and bytes), and everything every service shares: promspec's code, the Python version
and installed distributions, the templates, the flags, the working directory and out/
(cache.environment_key). The entry holds the services the file defines and their plans
(pickled apart, read only when a run needs them), what the fleet's files need of them
(names, overview facts, advice), how many SLOs and checks they count, the sha256 of every
file of out/ they own, and the promtool that accepted their rules (if one did).

- `check` compares out/ against those digests; it never needs the bytes.
- `generate` keeps each file in out/ when out/ holds exactly those bytes (read and
  hashed, not held: `write` links it into the new tree), and compiles the spec file
  again otherwise (a file deleted or edited by hand in out/). With promtool on PATH, an
  entry that this promtool has not accepted (`check` stored it, or another promtool) has
  its plain rule files from out/ checked in the run, and stores the verdict; without
  those files, it is compiled.

What spans services is computed on every run from the services, cached or not: unique
names, the run limit, the fleet dashboard, Alertmanager routes. Entries are written only
after a run succeeded, under a key computed again after compiling (a spec saved mid-run
is compiled next time). A missing, corrupt or foreign entry is a miss, never an error;
the entry's first line carries the sha256 of the rest. Entries are pickles: the cache
is the user's own git-ignored directory (black keeps its cache so too), and the key
covers promspec's code, so an entry is only ever read by the code that wrote it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import conventions
from generator.dashboards.overview import Facts
from generator.outputs import cache, write
from generator.slo.plan import SLOPlan
from generator.spec.model import Service

FOLDER = f"{cache.ENTRIES}/specs"
MAGIC = b"promspec-spec-cache"
KEEP_AT_LEAST = 2048  # entries kept besides those of the last run (other branches)


@dataclass
class SpecEntry:
    """What one spec file compiled to.

    The services and their plans are pickled apart (`model`) and read only when a run
    needs them: a run that takes most spec files from the cache builds the fleet's files
    from what the entry keeps beside them (names, overview facts, advice), and reading
    999 entries' models back was a fifth of a `check`."""

    model: bytes  # pickle of (services, plans)
    names: tuple[str, ...]  # the services' names, in file order
    overview: tuple[Facts, ...]  # per service, in file order
    advice: tuple[str, ...]  # plan.advice on the plans, as the run prints it
    items: int  # SLOs and checks, for the run limit
    files: dict[str, str]  # path under out/ -> sha256, for every file its services own
    promtool: str | None = None  # identity of the promtool that accepted the rules

    @classmethod
    def of(
        cls,
        services: list[Service],
        plans: dict[str, list[SLOPlan]],
        *,
        facts: list[Facts],
        advice: list[str],
        items: int,
        files: dict[str, str],
        promtool: str | None,
    ) -> SpecEntry:
        entry = cls(
            model=pickle.dumps((services, plans), protocol=pickle.HIGHEST_PROTOCOL),
            names=tuple(s.name for s in services),
            overview=tuple(facts),
            advice=tuple(advice),
            items=items,
            files=files,
            promtool=promtool,
        )
        entry.__dict__["_loaded"] = (services, plans)
        return entry

    @property
    def services(self) -> list[Service]:
        return self._model()[0]

    @property
    def plans(self) -> dict[str, list[SLOPlan]]:
        return self._model()[1]

    def _model(self) -> tuple[list[Service], dict[str, list[SLOPlan]]]:
        if "_loaded" not in self.__dict__:
            self.__dict__["_loaded"] = pickle.loads(self.model)
        loaded: tuple[list[Service], dict[str, list[SLOPlan]]] = self.__dict__["_loaded"]
        return loaded

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_loaded"}


@dataclass
class Hit:
    entry: SpecEntry
    kept: dict[str, write.Kept]  # entry.files as out/ holds them (generate), or {} (check)
    # The run's promtool has not accepted these rules yet (an entry `check` stored):
    # the plain rule files, as out/ holds them, for the run to check and store the verdict.
    unproven: dict[str, bytes] = field(default_factory=dict)


class SpecCache:
    """The per-spec cache as one run uses it.

    out: for `generate`, the out/ whose files a hit is taken from (None for `check`,
    which needs only the digests). promtool: the identity of the promtool the run checks
    with, or None when it does not run promtool."""

    def __init__(
        self,
        folder: Path,
        environment: str,
        *,
        out: Path | None = None,
        promtool: str | None = None,
    ) -> None:
        self.folder = folder / FOLDER
        self.environment = environment
        self.out = out
        self.promtool = promtool
        self.used: set[str] = set()
        # Digests for the lookups, so a defaults file is read once; store() reads afresh.
        self._lookups = cache.Digests()

    def key(
        self, spec: Path, defaults: Path | None, digest: cache.Digests | None = None
    ) -> str | None:
        try:
            return cache.spec_key(self.environment, spec, defaults, digest or cache.Digests())
        except OSError:
            return None  # unreadable: the compile reports it

    def lookup(self, spec: Path, defaults: Path | None) -> tuple[str | None, Hit | None]:
        """The spec file's key (None: unreadable) and its entry, if one can be taken."""
        key = self.key(spec, defaults, self._lookups)
        entry = None if key is None else self._load(key)
        if entry is None or key is None:
            return key, None
        rules: set[str] = set()
        if self.promtool is not None and entry.promtool != self.promtool:
            rules = {conventions.rules_path(name) for name in entry.names}
            if self.out is None or not rules <= entry.files.keys():
                return key, None  # no plain rule file in out/ to check: compile
        taken = ({}, {}) if self.out is None else self._from_out(entry.files, rules)
        if taken is None:
            return key, None
        kept, unproven = taken
        self.used.add(key)
        with contextlib.suppress(OSError):
            os.utime(self._path(key))  # recently used: pruned last
        return key, Hit(entry, kept, unproven)

    def _from_out(
        self, digests: dict[str, str], read: set[str]
    ) -> tuple[dict[str, write.Kept], dict[str, bytes]] | None:
        """The files to keep, and the bytes of those in `read`; None unless out/ holds
        exactly these bytes."""
        assert self.out is not None
        kept, contents = {}, {}
        for rel, digest in digests.items():
            if (taken := write.keep(self.out / rel, digest)) is None:
                return None
            kept[rel] = taken[0]
            if rel in read:
                contents[rel] = taken[1]
        return kept, contents

    def store(self, key: str, spec: Path, defaults: Path | None, entry: SpecEntry) -> None:
        """Write the entry atomically, unless the spec or its defaults changed since its
        key was taken; never raises for a file-system problem."""
        if self.key(spec, defaults) != key:
            return
        existing = self._load(key)
        if entry.promtool is None and existing is not None and existing.files == entry.files:
            entry.promtool = existing.promtool  # `check` never runs promtool: keep generate's
        if self._write(self._path(key), entry):
            self.used.add(key)

    def jinja_folder(self) -> Path | None:
        """Where Jinja keeps compiled templates, or None when it cannot be made."""
        folder = self.folder.parent / "jinja"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return folder

    def prune(self) -> None:
        """Keep this run's entries and the newest others (another branch's specs)."""
        found = []
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for e in entries:
                if e.name.endswith(".entry") and e.name[: -len(".entry")] not in self.used:
                    with contextlib.suppress(OSError):
                        found.append((e.stat().st_mtime_ns, e.path))
        keep = max(KEEP_AT_LEAST, 2 * len(self.used))
        for _, path in sorted(found, reverse=True)[keep:]:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.entry"

    def _load(self, key: str) -> SpecEntry | None:
        entry = self._read(self._path(key))
        return entry if isinstance(entry, SpecEntry) else None

    def _read(self, path: Path) -> Any:
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        head, _, body = raw.partition(b"\n")
        if head != MAGIC + b" " + cache.sha256(body).encode():
            return None
        try:
            return pickle.loads(body)
        except Exception:  # an entry from elsewhere: any failure to read it is a miss
            return None

    def _write(self, path: Path, value: Any) -> bool:
        """Write atomically; False (never an exception) when the file system refuses."""
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return cache.write_atomically(
            path, MAGIC + b" " + cache.sha256(body).encode() + b"\n" + body
        )
