"""The promtool test files through a user's tests.yml.j2 (--templates): ours as a copy,
one written as YAML text the way before templates built data, and a broken one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT

from generator.dashboards import service as dashboards
from generator.errors import SpecError
from generator.pipeline import build_services
from generator.proofs import render as proofs
from generator.proofs.proofdata import (
    TestFile as ProofFile,  # as TestFile, pytest would try to collect it
)
from generator.rules import render
from generator.slo import plan
from generator.spec.model import Service

TEXT_TEMPLATES = ROOT / "tests" / "fixtures" / "text-templates"
# The windows fixtures have alerts no scenario proves (listed in the file's header).
WINDOWS = ROOT / "tests" / "fixtures" / "windows"


def proof_files(specs: Path = FIXTURES) -> Iterator[tuple[Service, ProofFile]]:
    """The test files of `specs`, from their rule data as the pipeline makes it."""
    env = render.environment(None)
    for service in build_services([specs]):
        plans, findings = plan.plan_service(service)
        assert not findings
        data = render.render_rules(env, service, plans)
        dashboards.annotate_alerts(data, service, dashboards.service_dashboard(service, plans))
        for file in proofs.test_files(service, plans, data):
            yield service, file


def user_templates(tmp_path: Path, text: str) -> Path:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / proofs.TEMPLATE).write_text(text, "utf-8")
    return templates


@pytest.mark.parametrize(
    "template", [ROOT / "templates" / proofs.TEMPLATE, TEXT_TEMPLATES / proofs.TEMPLATE]
)
def test_a_users_tests_template_gives_the_same_files(template: Path, tmp_path: Path) -> None:
    # Ours in the sandbox, and the one that printed YAML text: the same bytes.
    theirs = render.environment(user_templates(tmp_path, template.read_text("utf-8")))
    ours = render.environment(None)
    files = [*proof_files(), *proof_files(WINDOWS)]
    assert any(f.not_proven for _, f in files)
    assert any(s.expr_checks for _, f in files for s in f.scenarios)
    for service, file in files:
        assert proofs.render_file(theirs, service, file) == proofs.render_file(ours, service, file)


def test_a_users_text_tests_template_is_what_renders(tmp_path: Path) -> None:
    text = (TEXT_TEMPLATES / proofs.TEMPLATE).read_text("utf-8")
    env = render.environment(
        user_templates(tmp_path, text.replace("tests:", "x_note: ours\ntests:"))
    )
    service, file = next(proof_files())
    assert "\nx_note: ours\ntests:\n" in proofs.render_file(env, service, file)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ nope }}", "'nope' is undefined"),
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("tests: [\n", "while parsing a flow node did not find expected node content in"),
    ],
)
def test_a_broken_tests_template_is_one_line_naming_it(
    text: str, message: str, tmp_path: Path
) -> None:
    env = render.environment(user_templates(tmp_path, text))
    service, file = next(proof_files())
    with pytest.raises(SpecError) as caught:
        proofs.render_file(env, service, file)
    [problem] = caught.value.problems
    assert problem.file == proofs.TEMPLATE
    assert problem.message.startswith(f"cannot render the tests of '{service.name}': {message}")
    assert "\n" not in problem.message
