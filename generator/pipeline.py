"""The whole compilation, stage after stage: load, validate, build, plan, render, check.

Nothing here writes to out/: it returns the files, and `write` swaps them in only when
every stage succeeded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator import conventions, parallel
from generator.dashboards import overview
from generator.dashboards import service as dashboards
from generator.errors import Problem, SpecError
from generator.outputs import cache, check, spec_cache, write
from generator.proofs import render as proofs
from generator.rules import alertmanager, formats, render
from generator.slo import plan
from generator.spec.build import Builder
from generator.spec.inherit import effective_defaults
from generator.spec.inputs import (
    GENERATED_MARK,
    discover,
    find_alertmanager_file,
    find_defaults,
    is_spec,
)
from generator.spec.load import Document, display_path, load_file
from generator.spec.model import Service
from generator.spec.validate import MAX_ITEMS_PER_RUN, check_document, count_items

# Discovery lives in generator/spec/inputs.py (the cache names the same inputs); these
# names stay importable from here.
__all__ = ["GENERATED_MARK", "discover", "find_alertmanager_file", "is_spec"]


@dataclass
class Result:
    # The run's spec files in order: their services and plans are read back from the spec
    # cache only when something asks for them (`services`, `plans`), not to count them.
    units: list[_SpecFile] = field(default_factory=list)
    fresh_plans: dict[str, list[plan.SLOPlan]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    promtool_checked: bool = False
    compiled: list[str] = field(default_factory=list)  # services compiled now, not reused
    plain: dict[str, bytes] = field(default_factory=dict)  # plain rule files, for promtool
    # The promtool tests proving the rules (tests/<service>.test.yml), when asked for:
    # `promspec test` runs them; they are no part of out/.
    proofs: dict[str, bytes] = field(default_factory=dict)
    proven: set[str] = field(default_factory=set)  # the services `proofs` covers
    warnings: list[str] = field(default_factory=list)
    # Files of services taken from the spec cache, not in `files`: their sha256, and
    # for generate the files of out/ that hold them, for `write` to keep.
    reused: dict[str, str] = field(default_factory=dict)
    kept: dict[str, write.Kept] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every service of the run, in file order."""
        return [name for f in self.units for name in f.names]

    @property
    def services(self) -> list[Service]:
        return [s for f in self.units for s in f.services]

    @property
    def plans(self) -> dict[str, list[plan.SLOPlan]]:
        plans = dict(self.fresh_plans)
        for f in self.units:
            if f.hit is not None:
                plans.update(f.hit.entry.plans)
        return {name: plans[name] for name in self.names}

    def digests(self) -> dict[str, str]:
        """sha256 of every file out/ must hold."""
        return {**cache.hash_files(self.files), **self.reused}

    def paths(self) -> list[str]:
        """Every file out/ must hold, sorted."""
        return sorted({*self.files, *self.reused})


class _DefaultsCache:
    """Each defaults file loaded and validated once per run, however many specs use it
    (its problems too: reported for every spec that uses it, as loading it again would)."""

    def __init__(self) -> None:
        self.cache: dict[Path | None, dict[str, Any] | list[Problem]] = {}

    def load(self, path: Path | None) -> None:
        if path in self.cache:
            return
        try:
            self.cache[path] = effective_defaults(_load_defaults(path) if path else None)
        except SpecError as exc:
            self.cache[path] = exc.problems

    def get(self, path: Path | None) -> dict[str, Any]:
        self.load(path)
        found = self.cache[path]
        if isinstance(found, list):
            raise SpecError(found)
        return found


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


@dataclass
class _SpecFile:
    """One spec file of a run: its services, compiled now or taken from the spec cache."""

    path: Path
    defaults: Path | None
    built: list[Service]  # compiled now (a hit's are in its entry)
    items: int
    key: str | None = None  # its spec-cache key (None: no spec cache, or unreadable)
    hit: spec_cache.Hit | None = None
    # What the fleet's files need of its services: the overview's facts and the advice,
    # from its entry or computed once from the plans compiled now (and then stored).
    facts: list[overview.Facts] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.hit.entry.names) if self.hit is not None else [s.name for s in self.built]

    @property
    def services(self) -> list[Service]:
        return self.hit.entry.services if self.hit is not None else self.built


@dataclass
class _Built:
    """What one spec file builds to, in a worker: its services and problems, and for the
    run's limit each document's count of items with a problem placed at its start."""

    services: list[Service] = field(default_factory=list)
    documents: list[tuple[int, Problem]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def build_services(
    paths: list[Path], defaults_file: Path | None = None, exclude: Path | None = None
) -> list[Service]:
    """Load, validate and build every service; all problems of all files at once."""
    with parallel.few_collections():
        return [s for f in _build_files(paths, defaults_file, exclude) for s in f.services]


def _build_files(
    paths: list[Path],
    defaults_file: Path | None,
    exclude: Path | None,
    reuse: spec_cache.SpecCache | None = None,
    discovered: list[tuple[Path, Path]] | None = None,
) -> list[_SpecFile]:
    problems: list[Problem] = []
    found: list[_SpecFile] = []
    seen: dict[str, tuple[_SpecFile, int]] = {}  # name -> the file and place defining it
    items = 0
    specs = [
        (spec, defaults_file or find_defaults(spec, root))
        for spec, root in (discover(paths, exclude) if discovered is None else discovered)
    ]
    lookups: list[tuple[str | None, spec_cache.Hit | None]] = [(None, None)] * len(specs)
    if reuse is not None:  # only inside compile_specs' few_collections, which unfreezes
        # Every entry read in one pass: 999 entries are millions of objects that all stay
        # alive, which the collector rescanned as they came and again after the compile.
        with parallel.kept_for_the_run():
            lookups = [reuse.lookup(spec, org) for spec, org in specs]
    missed = [spec for spec, (_, hit) in zip(specs, lookups, strict=True) if hit is None]
    # Loaded here, once, before the workers start: they inherit them.
    defaults = _DefaultsCache()
    for _, org_path in missed:
        defaults.load(org_path)
    with parallel.ordered(lambda spec: _build_file(*spec, defaults), missed) as builds:
        for (spec, org_path), (key, hit) in zip(specs, lookups, strict=True):
            if hit is not None:
                items += hit.entry.items
                if items > MAX_ITEMS_PER_RUN:
                    shown = display_path(spec)
                    raise SpecError([Problem(shown, 1, 1, "", _too_many(items))])
                unit = _SpecFile(spec, org_path, [], hit.entry.items, key=key, hit=hit)
            else:
                unit = _SpecFile(spec, org_path, [], 0, key=key)
                build = next(builds)
                for count, start in build.documents:
                    unit.items += count
                    if items + unit.items > MAX_ITEMS_PER_RUN:
                        raise SpecError([replace(start, message=_too_many(items + unit.items))])
                problems.extend(build.problems)
                unit.built = build.services
                items += unit.items
            for i, name in enumerate(unit.names):
                if name not in seen:
                    seen[name] = (unit, i)
                    continue
                first = seen[name][0].services[seen[name][1]].origin
                problems.append(
                    unit.services[i].origin.problem(
                        f"service '{name}' is also defined in {first.file}:{first.line}; "
                        "service names must be unique across all specs"
                    )
                )
            found.append(unit)
    if problems:
        raise SpecError(problems)
    if not any(f.names for f in found):
        shown = ", ".join(display_path(p) for p in paths)
        raise SpecError([Problem(shown, 0, 0, "", "no service specs found (*.yaml, *.yml)")])
    return found


def _build_file(spec: Path, org_path: Path | None, defaults: _DefaultsCache) -> _Built:
    """Load, validate and build one spec file (in a worker: problems are returned)."""
    built = _Built()
    try:
        docs = load_file(spec)
        org = defaults.get(org_path)
    except SpecError as exc:
        built.problems = exc.problems
        return built
    items = 0
    for doc in docs:
        count = count_items(doc.data)
        items += count
        built.documents.append((count, doc.problem((), "")))
        if items > MAX_ITEMS_PER_RUN:
            break  # over the run's limit by itself: the run stops at this document
        service = _build(doc, org, built.problems)
        if service is not None:
            built.services.append(service)
    return built


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
    reuse: spec_cache.SpecCache | None = None,
    proofs: bool = False,
    proven: Callable[[list[str]], set[str]] | None = None,
    discovered: list[tuple[Path, Path]] | None = None,
) -> Result:
    """Compile every service. With `reuse`, the spec files whose entry it holds are taken
    from it, and only the others compiled: `compiled` then names only the services
    compiled now, and `plain` those and the reused ones whose rules promtool must see.
    With `proofs` (and no `reuse`), `proofs` holds the tests that prove the rules: of
    every service, or of those `proven` picks from all the names (a shard of `promspec
    test`); `Result.proven` names them. discovered: the specs' discovery (spec, root), when
    the caller made it already for its cache keys, so both name the same files."""
    if proofs and reuse is not None:
        raise ValueError("proofs are built for the services compiled now: pass no reuse")
    options = options or formats.Options()
    with parallel.few_collections():
        spec_files = _build_files(paths, defaults_file, out, reuse, discovered)
        result = Result(units=spec_files)
        fresh = [s for f in spec_files if f.hit is None for s in f.built]
        env = render.environment(templates, reuse.jinja_folder() if reuse else None)
        if fresh:
            render.load_package_templates(env)
        names = result.names
        if proofs:
            result.proven = proven(names) if proven is not None else set(names)
        problems: list[Problem] = []
        plans: dict[str, list[plan.SLOPlan]] = {}
        owned: dict[str, dict[str, bytes]] = {}  # service -> the files it alone shapes

        def compile_one(service: Service) -> _Compiled:
            return _compile_service(env, service, options, service.name in result.proven)

        # Each result taken as it comes, while the workers compile the next ones.
        with parallel.ordered(compile_one, fresh) as compiled:
            for done, (service, unit) in enumerate(zip(fresh, compiled, strict=True), 1):
                if progress:
                    progress(done, len(fresh))
                problems.extend(unit.problems)
                if unit.problems:
                    continue
                plans[service.name] = _with_own_slos(service, unit.plans)
                result.compiled.append(service.name)
                result.plain.update(unit.plain)
                result.proofs.update(unit.proofs)
                owned[service.name] = unit.files
    if problems:
        raise SpecError(problems)
    result.fresh_plans = plans
    for f in spec_files:
        if f.hit is not None:
            result.kept.update(f.hit.kept)
            result.reused.update(f.hit.entry.files)
            result.plain.update(f.hit.unproven)
            f.facts, f.advice = list(f.hit.entry.overview), list(f.hit.entry.advice)
        else:
            f.facts = [overview.facts(plans[s.name]) for s in f.built]
            f.advice = [str(p) for p in plan.advice(p for s in f.built for p in plans[s.name])]
        result.warnings += f.advice
    for files in owned.values():
        result.files.update(files)
    if any(name in formats.FLEET_FORMATS for name in options.formats):
        result.files.update(formats.fleet_files(result.services, options))
    fleet = [facts for f in spec_files for facts in f.facts]
    result.files[conventions.OVERVIEW_PATH] = overview.overview_dashboard(fleet).encode("utf-8")
    result.files[conventions.PROVISIONING_PATH] = overview.provisioning().encode("utf-8")
    result.files = dict(sorted(result.files.items()))
    if conventions.FORMAT_ALERTMANAGER in options.formats:
        result.warnings += [
            f"Alertmanager receiver '{name}' has no integration yet; define it in "
            f"{options.alertmanager_source or conventions.ALERTMANAGER_FILES[0]} "
            "(until then Alertmanager drops what reaches it)"
            for name in alertmanager.undefined_receivers(result.services, options.alertmanager_base)
        ]
    if use_promtool and check.promtool() is not None:
        _promtool(result)
    if use_promtool and conventions.ALERTMANAGER_ROUTES_PATH in result.files:
        _amtool(result, options)
    if reuse is not None:
        _remember(reuse, spec_files, result, owned)
    return result


def _remember(
    reuse: spec_cache.SpecCache,
    spec_files: list[_SpecFile],
    result: Result,
    owned: dict[str, dict[str, bytes]],
) -> None:
    """Store what each spec file compiled to now (the run succeeded)."""
    promtool = reuse.promtool if result.promtool_checked else None
    for f in spec_files:
        if f.key is None:
            continue
        if f.hit is not None and f.hit.unproven and promtool is not None:
            proven = replace(f.hit.entry, promtool=promtool)
            reuse.store(f.key, f.path, f.defaults, proven)
        if f.hit is not None:
            continue
        files = {p: c for s in f.built for p, c in owned[s.name].items()}
        entry = spec_cache.SpecEntry.of(
            f.built,
            {s.name: result.fresh_plans[s.name] for s in f.built},
            facts=f.facts,
            advice=f.advice,
            items=f.items,
            files=cache.hash_files(files),
            promtool=promtool,
        )
        reuse.store(f.key, f.path, f.defaults, entry)
    reuse.prune()


def _with_own_slos(service: Service, plans: list[plan.SLOPlan]) -> list[plan.SLOPlan]:
    """The plans, pointing at the service's own SLOs and tiers. A worker sends back
    equal copies of them, which the spec cache's entry (services and plans pickled
    together) then held twice: a third of each entry, and of what a reused spec costs
    to read."""
    own = {slo.name: slo for slo in service.slos}
    shared = []
    for p in plans:
        slo = own.get(p.slo.name)
        if slo is None or slo is p.slo or slo != p.slo:
            shared.append(p)
            continue
        tiers = tuple(
            replace(t, tier=next(o for o in slo.alerting.tiers if o == t.tier)) for t in p.tiers
        )
        shared.append(replace(p, slo=slo, tiers=tiers))
    return shared


@dataclass
class _Compiled:
    """What one service compiles to; problems are returned, not raised, so that services
    can compile in worker processes (only results cross the process boundary)."""

    plans: list[plan.SLOPlan] = field(default_factory=list)
    # No rule data: each format's files are dumped in the worker, and only the results
    # cross the process boundary (pickling the data back was work for nothing).
    plain: dict[str, bytes] = field(default_factory=dict)  # the plain rule file
    # Every file of the service in out/: each format's rules, the dashboard.
    files: dict[str, bytes] = field(default_factory=dict)
    proofs: dict[str, bytes] = field(default_factory=dict)  # when asked for
    problems: list[Problem] = field(default_factory=list)


def _render(
    env: Any, service: Service
) -> tuple[list[plan.SLOPlan], dict[str, Any], dashboards.ServiceDashboard] | list[Problem]:
    """The service's plans, rule data (annotated with its dashboard's links) and
    dashboard, or the problems that stop it."""
    plans, findings = plan.plan_service(service)
    if findings:
        return [f.tier.origin.problem(f.message) for f in findings]
    if service.name == conventions.OVERVIEW_NAME:
        return [
            service.origin.problem(
                f"service name '{service.name}' is taken by the fleet dashboard "
                f"({conventions.OVERVIEW_PATH}); rename the service"
            )
        ]
    try:
        data = render.render_rules(env, service, plans)
        dashboard = dashboards.service_dashboard(service, plans)
    except SpecError as exc:
        return list(exc.problems)
    dashboards.annotate_alerts(data, service, dashboard)
    return plans, data, dashboard


def _compile_service(
    env: Any, service: Service, options: formats.Options, with_proofs: bool
) -> _Compiled:
    rendered = _render(env, service)
    if not isinstance(rendered, tuple):
        return _Compiled(problems=rendered)
    plans, data, dashboard = rendered
    try:
        files = {conventions.dashboard_path(service.name): dashboard.text.encode("utf-8")}
        # Built here when asked for, as the rules are: on several cores, in the workers.
        tests = {}
        if with_proofs:
            for test_file in proofs.test_files(service, plans, data):
                text = proofs.render_file(env, service, test_file)
                tests[test_file.path] = text.encode("utf-8")
        # Each format's files are dumped here too: on several cores, in the workers.
        output = formats.ServiceOutput(service, plans, data)
        plain = formats.prometheus([output], options)
        files.update(formats.render_files([output], options, plain))
    except SpecError as exc:
        return _Compiled(problems=list(exc.problems))
    return _Compiled(plans, plain, files, tests)


def _promtool(result: Result) -> None:
    """promtool on every rule file; its complaints name the spec each file came from."""
    # The services compiled now, and reused ones this promtool has not accepted yet.
    by_file = {
        p: s
        for f in result.units
        if any(conventions.rules_path(name) in result.plain for name in f.names)
        for s in f.services
        if (p := conventions.rules_path(s.name)) in result.plain
    }
    if not by_file:
        result.promtool_checked = True
        return
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


def _amtool(result: Result, options: formats.Options) -> None:
    """amtool on the Alertmanager configuration: the user's file merged with our routes."""
    if check.amtool() is None:
        result.warnings.append(f"{check.AMTOOL_HINT}; the Alertmanager configuration not checked")
        return
    config = result.files[conventions.ALERTMANAGER_ROUTES_PATH]
    complaints = check.check_alertmanager(config)
    if complaints:
        source = options.alertmanager_source or conventions.ALERTMANAGER_ROUTES_PATH
        message = "amtool rejected the Alertmanager configuration: " + " | ".join(complaints)
        raise SpecError([Problem(source, 0, 0, "", message[:2000])])


def load_alertmanager_file(path: Path) -> dict[str, Any]:
    docs = load_file(path)
    if len(docs) != 1:
        raise SpecError([docs[-1].problem((), "the Alertmanager file holds exactly one document")])
    problems = alertmanager.check_user_file(docs[0])
    if problems:
        raise SpecError(problems)
    data: dict[str, Any] = docs[0].data
    return data
