"""The whole compilation, stage after stage: load, validate, build, plan, render, check.

Nothing here writes to out/: it returns the files, and `write` swaps them in only when
every stage succeeded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import (
    alertmanager,
    check,
    conventions,
    dashboards,
    formats,
    parallel,
    plan,
    proofs,
    render,
)
from generator import dashboards_overview as overview
from generator.build import Builder
from generator.errors import Problem, SpecError
from generator.inherit import effective_defaults
from generator.inputs import (
    GENERATED_MARK,
    discover,
    find_alertmanager_file,
    find_defaults,
    is_spec,
)
from generator.load import Document, display_path, load_file
from generator.model import Service
from generator.validate import MAX_ITEMS_PER_RUN, check_document, count_items

# Discovery lives in generator/inputs.py (the cache names the same inputs); these
# names stay importable from here.
__all__ = ["GENERATED_MARK", "discover", "find_alertmanager_file", "is_spec"]


@dataclass
class Result:
    services: list[Service] = field(default_factory=list)
    plans: dict[str, list[plan.SLOPlan]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    promtool_checked: bool = False
    outputs: list[formats.ServiceOutput] = field(default_factory=list)
    plain: dict[str, bytes] = field(default_factory=dict)  # plain rule files, for promtool
    warnings: list[str] = field(default_factory=list)


class _DefaultsCache:
    def __init__(self, explicit: Path | None) -> None:
        self.explicit = explicit
        self.cache: dict[Path | None, dict[str, Any]] = {}

    def for_spec(self, spec: Path, root: Path) -> dict[str, Any]:
        return self.get(self.explicit or find_defaults(spec, root))

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
    options: formats.Options | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    options = options or formats.Options()
    with parallel.few_collections():
        result = Result(services=build_services(paths, defaults_file, out))
        env = render.environment(templates)
        proven = conventions.FORMAT_PROMETHEUS in options.formats
        compiled = parallel.map_ordered(lambda s: _compile_service(env, s, proven), result.services)
    problems: list[Problem] = []
    extra: dict[str, bytes] = {}  # dashboards and proofs, beside the rule formats
    for done, (service, unit) in enumerate(zip(result.services, compiled, strict=True), 1):
        if progress:
            progress(done, len(result.services))
        problems.extend(unit.problems)
        if unit.problems:
            continue
        result.plans[service.name] = unit.plans
        result.outputs.append(formats.ServiceOutput(service, unit.plans, unit.rules))
        extra.update(unit.files)
    if problems:
        raise SpecError(problems)
    # Every format carries the same rules, so promtool on the plain files proves them all.
    result.plain = formats.prometheus(result.outputs, options)
    result.files = formats.render_files(result.outputs, options, plain=result.plain)
    result.files.update(extra)
    result.files[conventions.OVERVIEW_PATH] = overview.overview_dashboard(
        result.services, result.plans
    ).encode("utf-8")
    result.files[conventions.PROVISIONING_PATH] = overview.provisioning().encode("utf-8")
    if conventions.FORMAT_ALERTMANAGER in options.formats:
        result.warnings += [
            f"Alertmanager receiver '{name}' has no integration yet; define it in "
            f"{options.alertmanager_source or conventions.ALERTMANAGER_FILES[0]} "
            "(until then Alertmanager drops what reaches it)"
            for name in alertmanager.undefined_receivers(result.services, options.alertmanager_base)
        ]
    if use_promtool and check.promtool() is not None:
        _promtool(result)
    return result


@dataclass
class _Compiled:
    """What one service compiles to; problems are returned, not raised, so that services
    can compile in worker processes (only results cross the process boundary)."""

    plans: list[plan.SLOPlan] = field(default_factory=list)
    rules: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # dashboard and proofs
    problems: list[Problem] = field(default_factory=list)


def _compile_service(env: Any, service: Service, proven: bool) -> _Compiled:
    plans, findings = plan.plan_service(service)
    if findings:
        return _Compiled(problems=[f.tier.origin.problem(f.message) for f in findings])
    if service.name == conventions.OVERVIEW_NAME:
        return _Compiled(
            problems=[
                service.origin.problem(
                    f"service name '{service.name}' is taken by the fleet dashboard "
                    f"({conventions.OVERVIEW_PATH}); rename the service"
                )
            ]
        )
    try:
        data = render.render_rules(env, service, plans)
        dashboard = dashboards.service_dashboard(service, plans)
        dashboards.annotate_alerts(data, service, dashboard)
        files = {conventions.dashboard_path(service.name): dashboard.text.encode("utf-8")}
        # The promtool tests that prove the rules (out/tests/) read the plain rule files,
        # so they come with that format.
        if proven:
            for test_file in proofs.test_files(service, plans, data):
                rendered = proofs.render_file(env, service, test_file)
                files[test_file.path] = rendered.encode("utf-8")
    except SpecError as exc:
        return _Compiled(problems=list(exc.problems))
    return _Compiled(plans, data, files)


def _promtool(result: Result) -> None:
    """promtool on every rule file; its complaints name the spec each file came from."""
    by_file = {conventions.rules_path(s.name): s for s in result.services}
    with tempfile.TemporaryDirectory(prefix="promspec-check-") as tmp:
        paths: dict[str, Service] = {}
        for rel, service in by_file.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(result.plain[rel])
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


def load_alertmanager_file(path: Path) -> dict[str, Any]:
    docs = load_file(path)
    if len(docs) != 1:
        raise SpecError([docs[-1].problem((), "the Alertmanager file holds exactly one document")])
    problems = alertmanager.check_user_file(docs[0])
    if problems:
        raise SpecError(problems)
    data: dict[str, Any] = docs[0].data
    return data
