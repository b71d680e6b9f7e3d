"""Stage 5b: the promtool unit tests that prove a service's alerts, rendered like rules.

Scenario data comes from generator/proofs/scenarios.py (SLOs) and
generator/proofs/check_scenarios.py (thresholds, capacity, freshness, expiry, absence);
templates/tests.yml.j2 lays it out; the YAML is parsed back and dumped canonically.

Unless the user overrides tests.yml.j2 (--templates), the laid-out data is built here
directly (`direct_data`), without Jinja and the parse back (with the dump, which stays,
they were 38% of the CPU of a cold run).
That builder is a second copy of the template's layout: tests/test_proofs_direct.py
proves both give the same data and bytes, on every spec we have.
"""

from __future__ import annotations

import posixpath
import weakref
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
from generator.units import exact_number, format_duration

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
    data = direct_data(file) if uses_package_template(env) else template_data(env, service, file)
    return file_text(data, service, file)


def template_data(env: jinja2.Environment, service: Service, file: TestFile) -> Any:
    """The test file as tests.yml.j2 (ours or the user's) lays it out, parsed back."""
    try:
        text = env.get_template(TEMPLATE).render(file=file)
        # As the rule files are read (PyYAML's pure-Python loader took 60% of a run).
        return render.load_yaml(text)
    except (jinja2.TemplateError, yaml.YAMLError) as exc:
        raise SpecError(
            [Problem(TEMPLATE, 0, 0, "", f"cannot render the tests of '{service.name}': {exc}")]
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


_OURS: weakref.WeakKeyDictionary[jinja2.Environment, bool] = weakref.WeakKeyDictionary()


def uses_package_template(env: jinja2.Environment) -> bool:
    """Whether `env` renders our own tests.yml.j2: no --templates, or a directory without
    that file (or with an unchanged copy). Asked once per environment, as Jinja itself
    loads each template once (auto_reload is off)."""
    ours = _OURS.get(env)
    if ours is None:
        try:
            source = env.loader.get_source(env, TEMPLATE)[0] if env.loader else None
        except (jinja2.TemplateError, OSError):  # the template path reports it
            source = None
        ours = _OURS[env] = source is not None and source == render.package_template(TEMPLATE)
    return ours


def direct_data(file: TestFile) -> dict[str, Any]:
    """What templates/tests.yml.j2 renders for `file`, parsed back, built directly.

    A copy of the template's layout, kept in step by tests/test_proofs_direct.py: change
    one, change the other. What the template's round trip does to values, done here:
    `q` text comes back as the same string; `dur` is a string; `num` text is read back
    by YAML's rules (an int, a float, or a string such as 1e-05); `tojson` sorts keys
    (Jinja's default); an empty block list (`key:` with no items) reads back as null.
    Every mapping and list is new: shared ones would dump as YAML anchors and aliases.
    """
    return {
        "rule_files": [str(file.rule_file)],
        "evaluation_interval": format_duration(file.evaluation_interval),
        "group_eval_order": [str(g) for g in file.group_order] or None,
        "tests": [_scenario(s) for s in file.scenarios] or None,
    }


def _scenario(s: Scenario) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": str(s.name),
        "interval": format_duration(s.step),
        "input_series": [{"series": str(i.series), "values": str(i.values)} for i in s.series]
        or None,
    }
    if s.alert_checks:
        test["alert_rule_test"] = [
            {
                "eval_time": format_duration(c.eval_time),
                "alertname": str(c.alertname),
                "exp_alerts": [
                    {
                        "exp_labels": dict(sorted(dict(a.labels).items())),
                        "exp_annotations": dict(sorted(dict(a.annotations).items())),
                    }
                    for a in c.alerts
                ],
            }
            for c in s.alert_checks
        ]
    if s.expr_checks:
        test["promql_expr_test"] = [
            {
                "expr": str(c.expr),
                "eval_time": format_duration(c.eval_time),
                "exp_samples": [
                    {"labels": str(labels), "value": _number(value)} for labels, value in c.samples
                ]
                or None,
            }
            for c in s.expr_checks
        ]
    return test


_NUMBERS: dict[str, Any] = {}


def _number(value: float) -> Any:
    """`value | exact` as YAML reads it back: the same loader, once per text."""
    text = exact_number(value)
    if text not in _NUMBERS:
        _NUMBERS[text] = render.load_yaml(text)
    return _NUMBERS[text]
