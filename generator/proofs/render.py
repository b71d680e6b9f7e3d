"""Stage 5b: the promtool unit tests that prove a service's alerts, rendered like rules.

Scenario data comes from generator/proofs/scenarios.py (SLOs) and
generator/proofs/check_scenarios.py (thresholds, capacity, freshness, expiry, absence);
templates/tests.yml.j2 lays it out as data (see generator/rules/render.py), which is
dumped canonically. A user's tests.yml.j2 (--templates) that writes YAML text instead
is parsed.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import Any

import jinja2
import yaml

from generator import conventions
from generator.errors import Problem, SpecError
from generator.proofs import layers, scenarios, windowproofs
from generator.proofs.check_scenarios import check_scenarios
from generator.proofs.proofdata import Scenario, TestFile, rule_infos
from generator.proofs.series import Unsupported
from generator.rules import render
from generator.slo.plan import SLOPlan
from generator.spec.model import Service

TEMPLATE = "tests.yml.j2"


def test_files(service: Service, plans: list[SLOPlan], rules: dict[str, Any]) -> list[TestFile]:
    fast, long, notes = _slo_scenarios(service, plans, rules)
    checks, check_notes = check_scenarios(service, rules)
    fast.extend(checks)
    notes.extend(check_notes)
    rule_file = posixpath.relpath(
        conventions.rules_path(service.name),
        posixpath.dirname(conventions.tests_path(service.name)),
    )
    order = tuple(g["name"] for g in rules["groups"])
    files = [
        TestFile(
            conventions.tests_path(service.name),
            rule_file,
            scenarios.FAST_STEP,
            tuple(fast),
            order,
            tuple(notes),
        )
    ]
    if long:
        files.append(
            TestFile(
                conventions.long_tests_path(service.name),
                rule_file,
                scenarios.LONG_STEP,
                tuple(long),
                order,
            )
        )
    windows, window_notes = windowproofs.window_files(
        service, plans, rule_infos(rules), rule_file, order
    )
    files.extend(windows)
    if window_notes:
        files[0] = replace(files[0], not_proven=(*files[0].not_proven, *window_notes))
    return files


def _slo_scenarios(
    service: Service, plans: list[SLOPlan], rules: dict[str, Any]
) -> tuple[list[Scenario], list[Scenario], list[str]]:
    """The SLOs' scenarios at the fast and the long step, and why any are missing."""
    infos = rule_infos(rules)
    notes: list[str] = []
    fast: list[Scenario] = []
    long: list[Scenario] = []
    for plan in plans:
        try:
            fast.extend(scenarios.slo_scenarios(service, [plan], infos, long=False))
            long.extend(scenarios.slo_scenarios(service, [plan], infos, long=True))
        except Unsupported as exc:
            notes.append(f"SLO {plan.slo.name}: {exc}")
    for s in (*fast, *long):
        layers.check(infos, s.name, (i.series for i in s.series))
    return fast, long, notes


def render_file(env: jinja2.Environment, service: Service, file: TestFile) -> str:
    return file_text(proof_data(env, service, file), service, file)


def proof_data(env: jinja2.Environment, service: Service, file: TestFile) -> Any:
    """The test file as tests.yml.j2 (ours or the user's) lays it out."""
    doc: dict[str, Any] = {}
    try:
        text = env.get_template(TEMPLATE).render(file=file, doc=doc)
        data = render.template_yaml(env, text) if text.strip() else doc
        return render.plain_data(data) if env.sandboxed else data
    except (jinja2.TemplateError, yaml.YAMLError) as exc:
        why = " ".join(str(exc).split())  # one line: YAML's messages span several
        raise SpecError(
            [Problem(TEMPLATE, 0, 0, "", f"cannot render the tests of '{service.name}': {why}")]
        ) from exc


def file_text(data: Any, service: Service, file: TestFile) -> str:
    """The canonical dump, with the alerts not proven listed under the header."""
    body = render.dump(data, service.source)
    if not file.not_proven:
        return body
    head, rest = body.split("\n", 1)
    hand = conventions.user_tests_path(service.source, service.name)
    lines = [f"# Not proven here (write a test in {hand}):"]
    lines += [f"#   {note}" for note in file.not_proven]
    return "\n".join([head, *lines, rest])
