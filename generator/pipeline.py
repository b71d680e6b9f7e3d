"""The whole compilation, stage after stage: load, validate, build, plan, render, check.

Nothing here writes to out/: it returns the files, and `write` swaps them in only when
every stage succeeded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import check, conventions, parallel, plan, render
from generator.build import Builder
from generator.errors import Problem, SpecError
from generator.inherit import effective_defaults
from generator.load import Document, display_path, load_file
from generator.model import Service
from generator.validate import check_document

SPEC_SUFFIXES = (".yaml", ".yml")
DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")
GENERATED_MARK = render.HEADER.split("{", 1)[0].encode()


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
                if p.is_file() and is_spec(p) and not _generated(p):
                    found.setdefault(p, arg)
        elif arg.is_file():
            found.setdefault(arg, arg.parent)
        else:
            missing.append(Problem(display_path(arg), 0, 0, "", "no such file or directory"))
    if missing:
        raise SpecError(missing)
    return sorted(found.items(), key=lambda item: display_path(item[0]))


def _generated(path: Path) -> bool:
    """Our own output (it starts with the header) is never read back as a spec."""
    with open(path, "rb") as handle:
        return handle.read(len(GENERATED_MARK)) == GENERATED_MARK


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
    problems = check_document(doc)
    if not problems and doc.data.get("kind") != "defaults":
        problems = [doc.problem(("kind",), "a defaults file needs 'kind: defaults'")]
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
    built = parallel.map_ordered(
        lambda found: _build_file(*found, defaults), discover(paths, exclude)
    )
    for file_services, file_problems in built:
        problems.extend(file_problems)
        for service in file_services:
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


def _build_file(
    spec: Path, root: Path, defaults: _DefaultsCache
) -> tuple[list[Service], list[Problem]]:
    """The services of one spec file, and its problems (returned, not raised)."""
    problems: list[Problem] = []
    try:
        docs = load_file(spec)
        org = defaults.for_spec(spec, root)
    except SpecError as exc:
        return [], exc.problems
    services = [s for doc in docs if (s := _build(doc, org, problems)) is not None]
    return services, problems


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
    with parallel.few_collections():
        result = Result(services=build_services(paths, defaults_file, out))
        env = render.environment(templates)
        problems: list[Problem] = []
        compiled = parallel.map_ordered(lambda s: _compile_service(env, s), result.services)
        for service, (plans, findings, text) in zip(result.services, compiled, strict=True):
            problems.extend(findings)
            if text is not None:
                result.plans[service.name] = plans
                result.files[conventions.rules_path(service.name)] = text
        if problems:
            raise SpecError(problems)
    if use_promtool and check.promtool() is not None:
        _promtool(result)
    return result


def _compile_service(
    env: Any, service: Service
) -> tuple[list[plan.SLOPlan], list[Problem], bytes | None]:
    """Plans, problems and the rule file of one service; problems are returned, not
    raised, so that they come back from a worker process like any result."""
    plans, findings = plan.plan_service(service)
    if findings:
        return plans, [f.tier.origin.problem(f.message) for f in findings], None
    try:
        data = render.render_rules(env, service, plans)
    except SpecError as exc:
        return plans, exc.problems, None
    return plans, [], render.dump(data, service.source).encode("utf-8")


def _promtool(result: Result) -> None:
    """promtool on every rule file; its complaints name the spec each file came from."""
    by_file = {conventions.rules_path(s.name): s for s in result.services}
    with tempfile.TemporaryDirectory(prefix="promspec-check-") as tmp:
        paths: dict[str, Service] = {}
        for rel, service in by_file.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(result.files[rel])
            paths[str(target)] = service
        complaints = check.check_rules([Path(p) for p in paths])
    problems = []
    for line in complaints:
        if line.startswith("Checking ") or line == "FAILED:":
            continue
        source = next((s.source for p, s in paths.items() if p in line), "promtool")
        for p, s in paths.items():
            line = line.replace(p, conventions.rules_path(s.name))
        problems.append(Problem(source, 0, 0, "", f"promtool rejected the generated rules: {line}"))
    if complaints and not problems:
        problems.append(Problem("promtool", 0, 0, "", " | ".join(complaints)[:2000]))
    if problems:
        raise SpecError(problems)
    result.promtool_checked = True
