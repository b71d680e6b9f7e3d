"""The generated promtool test files are built directly (proofs.direct_data) unless the
user overrides templates/tests.yml.j2. That builder copies the template's layout, so this
is the guard against drift: on every spec we have, the direct data must equal what the
template renders and YAML reads back, value for value and type for type, and the files
must be the same bytes. Change the template or the builder, and this says so."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.dashboards import service as dashboards
from generator.pipeline import build_services
from generator.proofs import render as proofs
from generator.proofs.proofdata import AlertCheck, ExpectedAlert, ExprCheck, InputSeries, Scenario
from generator.proofs.proofdata import (
    TestFile as ProofFile,  # as TestFile, pytest would try to collect it
)
from generator.rules import render
from generator.slo import plan
from generator.spec.model import Service

sys.path.insert(0, str(ROOT / "bench"))
from synth import write_specs

WINDOWS = ROOT / "tests" / "fixtures" / "windows"


def typed(value: Any) -> Any:
    """The value with every scalar's type beside it: 1, 1.0 and True are == in Python,
    but YAML writes them differently; dict key order, which the dump keeps, included."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def proof_files_of(specs: Path) -> Iterator[tuple[Service, ProofFile]]:
    """The test files the pipeline makes for each service, from the same rule data
    (rendered, then annotated with the dashboard's links)."""
    env = render.environment(None)
    for service in build_services([specs]):
        plans, findings = plan.plan_service(service)
        assert not findings
        data = render.render_rules(env, service, plans)
        dashboards.annotate_alerts(data, service, dashboards.service_dashboard(service, plans))
        for file in proofs.test_files(service, plans, data):
            yield service, file


@pytest.fixture(scope="module")
def all_test_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Service, ProofFile]]:
    synthetic = write_specs(tmp_path_factory.mktemp("synth"), 3)
    files: list[tuple[Service, ProofFile]] = []
    for specs in (ROOT / "specs", FIXTURES, WINDOWS, synthetic):
        files.extend(proof_files_of(specs))
    return files


def assert_same(service: Service, file: ProofFile) -> None:
    env = render.environment(None)
    through_template = proofs.template_data(env, service, file)
    direct = proofs.direct_data(file)
    assert typed(direct) == typed(through_template), file.path
    template_text = proofs.file_text(through_template, service, file)
    assert proofs.render_file(env, service, file) == template_text, file.path


def test_direct_data_is_what_the_template_renders(
    all_test_files: list[tuple[Service, ProofFile]],
) -> None:
    for service, file in all_test_files:
        assert_same(service, file)


def test_the_specs_reach_the_branches_of_the_template(
    all_test_files: list[tuple[Service, ProofFile]],
) -> None:
    """Else the comparison above would prove less than it seems. What the specs never
    hold (empty lists, fractional values, odd text) the property test below reaches."""
    files = [f for _, f in all_test_files]
    scenarios = [s for f in files for s in f.scenarios]
    alert_checks = [c for s in scenarios for c in s.alert_checks]
    assert any(f.not_proven for f in files)
    assert any(s.expr_checks for s in scenarios)
    assert any(not c.alerts for c in alert_checks)
    assert any(len(c.alerts) > 1 for c in alert_checks)


# Odd text and numbers the seed specs do not hold: quotes, escapes, non-ASCII, astral
# characters, HTML characters (Jinja's tojson escapes them), numbers YAML reads as text.
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
) | st.sampled_from(["", "null", "true", "1", "1e-05", "<&>'", '"', "a: b", "- x", "#"])
LABELS = st.lists(st.tuples(TEXT, TEXT), max_size=3).map(tuple)
NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20)
SECONDS = st.sampled_from([0.0, 0.5, 1.0, 60.0, 90.0, 5400.0, 86400.0 * 28, 299.5])
ALERT_CHECK = st.builds(
    AlertCheck,
    SECONDS,
    TEXT,
    st.lists(st.builds(ExpectedAlert, LABELS, LABELS), max_size=2).map(tuple),
)
EXPR_CHECK = st.builds(
    ExprCheck, TEXT, SECONDS, st.lists(st.tuples(TEXT, NUMBER), max_size=3).map(tuple)
)
SCENARIO = st.builds(
    Scenario,
    TEXT,
    SECONDS,
    st.lists(st.builds(InputSeries, TEXT, TEXT), max_size=2).map(tuple),
    st.lists(ALERT_CHECK, max_size=2).map(tuple),
    st.lists(EXPR_CHECK, max_size=2).map(tuple),
)
TEST_FILE = st.builds(
    ProofFile,
    st.just("tests/odd.test.yml"),
    TEXT,
    SECONDS,
    st.lists(SCENARIO, max_size=2).map(tuple),
    st.lists(TEXT, max_size=2).map(tuple),
)


FIXTURE_SERVICE = build_services([FIXTURES])[0]


@settings(max_examples=200, deadline=None)
@given(TEST_FILE)
def test_direct_data_is_what_the_template_renders_for_odd_values(file: ProofFile) -> None:
    env = render.environment(None)
    through_template = proofs.template_data(env, FIXTURE_SERVICE, file)
    direct = proofs.direct_data(file)
    assert typed(direct) == typed(through_template)
    assert proofs.file_text(direct, FIXTURE_SERVICE, file) == proofs.file_text(
        through_template, FIXTURE_SERVICE, file
    )


def test_an_overridden_test_template_is_rendered(tmp_path: Path) -> None:
    assert proofs.uses_package_template(render.environment(None))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert proofs.uses_package_template(render.environment(empty))
    same = tmp_path / "same"
    same.mkdir()
    text = (ROOT / "templates" / proofs.TEMPLATE).read_text("utf-8")
    (same / proofs.TEMPLATE).write_text(text, "utf-8")
    assert proofs.uses_package_template(render.environment(same))
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / proofs.TEMPLATE).write_text(text.replace("tests:", "x_note: ours\ntests:"))
    env = render.environment(changed)
    assert not proofs.uses_package_template(env)
    service, file = next(proof_files_of(FIXTURES))
    assert "\nx_note: ours\n" in proofs.render_file(env, service, file)
