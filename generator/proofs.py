"""Stage 5b: the promtool unit tests that prove a service's alerts, rendered like rules.

Scenario data comes from generator/scenarios.py (SLOs) and generator/check_scenarios.py
(thresholds, capacity, freshness, expiry, absence); templates/tests.yml.j2 lays it out;
the YAML is parsed back and dumped canonically.
"""

from __future__ import annotations

import posixpath
from typing import Any

import jinja2
import yaml

from generator import conventions, render, scenarios, yamlio
from generator.check_scenarios import check_scenarios
from generator.errors import Problem, SpecError
from generator.model import Service
from generator.plan import SLOPlan
from generator.proofdata import Scenario, TestFile, alert_rules
from generator.series import Unsupported

TEMPLATE = "tests.yml.j2"


def test_files(service: Service, plans: list[SLOPlan], rules: dict[str, Any]) -> list[TestFile]:
    infos = alert_rules(rules)
    notes: list[str] = []
    fast: list[Scenario] = []
    long: list[Scenario] = []
    for plan in plans:
        try:
            fast.extend(scenarios.slo_scenarios(service, [plan], infos, long=False))
            long.extend(scenarios.slo_scenarios(service, [plan], infos, long=True))
        except Unsupported as exc:
            notes.append(f"SLO {plan.slo.name}: {exc}")
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
    return files


def render_file(env: jinja2.Environment, service: Service, file: TestFile) -> str:
    try:
        text = env.get_template(TEMPLATE).render(file=file)
        # libyaml, as for the rule files (PyYAML's pure-Python loader took 60% of a run).
        data = yamlio.load(text)
    except (jinja2.TemplateError, yaml.YAMLError) as exc:
        raise SpecError(
            [Problem(TEMPLATE, 0, 0, "", f"cannot render the tests of '{service.name}': {exc}")]
        ) from exc
    body = render.dump(data, service.source)
    if not file.not_proven:
        return body
    head, rest = body.split("\n", 1)
    hand = conventions.user_tests_path(service.source, service.name)
    lines = [f"# Not proven here (write a test in {hand}):"]
    lines += [f"#   {note}" for note in file.not_proven]
    return "\n".join([head, *lines, rest])
