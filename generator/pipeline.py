"""The whole compilation, stage after stage: load, validate, build, plan, render, check.

Nothing here writes to out/: it returns the files, and `write` swaps them in only when
every stage succeeded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import check, conventions, plan, render
from generator.build import Builder
from generator.errors import Problem, SpecError
from generator.inherit import effective_defaults
from generator.load import Document, display_path, load_file
from generator.model import Service
from generator.validate import MAX_ITEMS_PER_RUN, check_document, count_items

SPEC_SUFFIXES = (".yaml", ".yml")
DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")


@dataclass
class Result:
    services: list[Service] = field(default_factory=list)
    plans: dict[str, list[plan.SLOPlan]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    promtool_checked: bool = False


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
                if skip and p.resolve().is_relative_to(skip):
                    continue
                if p.is_file() and is_spec(p):
                    found.setdefault(p, arg)
        elif arg.is_file():
            found.setdefault(arg, arg.parent)
        else:
            missing.append(Problem(display_path(arg), 0, 0, "", "no such file or directory"))
    if missing:
        raise SpecError(missing)
    return sorted(found.items(), key=lambda item: display_path(item[0]))


class _DefaultsCache:
    def __init__(self, explicit: Path | None) -> None:
        self.explicit = explicit
        self.cache: dict[Path | None, dict[str, Any]] = {}

    def for_spec(self, spec: Path, root: Path) -> dict[str, Any]:
        return self.get(self.explicit or self._find(spec, root))

    @staticmethod
    def _find(spec: Path, root: Path) -> Path | None:
        here, stop = spec.resolve().parent, root.resolve()
        while True:
            for name in DEFAULTS_NAMES:
                if (here / name).is_file():
                    return here / name
            if here == stop or here.parent == here:
                return None
            here = here.parent

    def get(self, path: Path | None) -> dict[str, Any]:
        if path not in self.cache:
            self.cache[path] = effective_defaults(_load_defaults(path) if path else None)
        return self.cache[path]


def _load_defaults(path: Path) -> dict[str, Any]:
    docs = load_file(path)
    if len(docs) != 1:
        raise SpecError([docs[1].problem((), "a defaults file holds exactly one document")])
    doc = docs[0]
    if not isinstance(doc.data, dict) or doc.data.get("kind") != "defaults":
        message = "a defaults file needs 'kind: defaults' (and 'version: promspec/v1'); add it"
        raise SpecError([doc.problem(("kind",), message)])
    problems = check_document(doc)
    if problems:
        raise SpecError(problems)
    data: dict[str, Any] = doc.data
    return data


def build_services(
    paths: list[Path], defaults_file: Path | None = None, exclude: Path | None = None
) -> list[Service]:
    """Load, validate and build every service; all problems of all files at once."""
    problems: list[Problem] = []
    services: list[Service] = []
    seen: dict[str, str] = {}
    defaults = _DefaultsCache(defaults_file)
    items = 0
    for spec, root in discover(paths, exclude):
        try:
            docs = load_file(spec)
            org = defaults.for_spec(spec, root)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        for doc in docs:
            items += count_items(doc.data)
            if items > MAX_ITEMS_PER_RUN:
                raise SpecError([doc.problem((), _too_many(items))])
            service = _build(doc, org, problems)
            if service is None:
                continue
            if service.name in seen:
                problems.append(
                    service.origin.problem(
                        f"service '{service.name}' is also defined in {seen[service.name]}; "
                        "service names must be unique across all specs"
                    )
                )
                continue
            seen[service.name] = f"{service.origin.file}:{service.origin.line}"
            services.append(service)
    if problems:
        raise SpecError(problems)
    if not services:
        shown = ", ".join(display_path(p) for p in paths)
        raise SpecError([Problem(shown, 0, 0, "", "no service specs found (*.yaml, *.yml)")])
    return services


def _too_many(items: int) -> str:
    return (
        f"the specs so far ask for {items} SLOs and checks, over the limit of "
        f"{MAX_ITEMS_PER_RUN} per run; generate in smaller batches (one out/ per batch)"
    )


def _build(doc: Document, org: dict[str, Any], problems: list[Problem]) -> Service | None:
    found = check_document(doc)
    if not found and doc.data.get("kind") == "defaults":
        found = [doc.problem(("kind",), "defaults belong in _defaults.yaml, not a service spec")]
    if found:
        problems.extend(found)
        return None
    builder = Builder(doc, org)
    service = builder.service()
    problems.extend(builder.problems)
    return None if builder.problems else service


def compile_specs(
    paths: list[Path],
    *,
    defaults_file: Path | None = None,
    templates: Path | None = None,
    use_promtool: bool = True,
    out: Path | None = None,
) -> Result:
    result = Result(services=build_services(paths, defaults_file, out))
    env = render.environment(templates)
    problems: list[Problem] = []
    for service in result.services:
        plans, findings = plan.plan_service(service)
        problems.extend(f.tier.origin.problem(f.message) for f in findings)
        if findings:
            continue
        result.plans[service.name] = plans
        data = render.render_rules(env, service, plans)
        text = render.dump(data, service.source)
        result.files[conventions.rules_path(service.name)] = text.encode("utf-8")
    if problems:
        raise SpecError(problems)
    if use_promtool and check.promtool() is not None:
        _promtool(result)
    return result


def _promtool(result: Result) -> None:
    by_file = {conventions.rules_path(s.name): s for s in result.services}
    with tempfile.TemporaryDirectory(prefix="promspec-check-") as tmp:
        paths = []
        for rel, content in result.files.items():
            if rel in by_file:
                target = Path(tmp) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                paths.append(target)
        complaints = check.check_rules(paths)
    if complaints:
        raise SpecError(
            [
                Problem(
                    "promtool",
                    0,
                    0,
                    "",
                    f"rejected the generated rules: {' | '.join(complaints)[:2000]}",
                )
            ]
        )
    result.promtool_checked = True
