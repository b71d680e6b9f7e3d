"""`promspec test`: the generated promtool tests pass, and fail when the rules are wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, run_cli

E2E = ROOT / "tests" / "fixtures" / "e2e"


@pytest.mark.parametrize("specs", [ROOT / "specs", FIXTURES], ids=["specs", "fixtures"])
def test_every_spec_is_proven_by_promtool(specs: Path) -> None:
    # Proving the 19 seed services is minutes of promtool on 2 cores; a stuck run still
    # ends, well inside CI's limit.
    result = run_cli("test", str(specs), timeout=2400)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith("services proven by promtool test rules")
    assert all(line.startswith("ok    ") for line in lines[:-1]), lines


def test_a_wrong_burn_factor_in_the_rules_is_caught(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    text = (ROOT / "templates" / "rules_slo.yml.j2").read_text()
    broken = text.replace(
        '" > " ~ (t.factor | num) ~ " and "', '" > " ~ ((t.factor * 2) | num) ~ " and "'
    )
    assert broken != text
    (templates / "rules_slo.yml.j2").write_text(broken)
    result = run_cli("test", str(E2E), "--templates", str(templates))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAIL  e2e-api (")
    assert "alerts not proven for e2e-api" in result.stderr


def test_hand_written_tests_next_to_the_spec_run_too(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(E2E, specs)
    own = specs / "e2e-api.test.yml"
    own.write_text(
        "rule_files: [../prometheus/e2e-api.rules.yml]\n"
        "evaluation_interval: 1m\n"
        "tests:\n"
        "- interval: 1m\n"
        "  input_series: []\n"
        "  alert_rule_test:\n"
        "  - eval_time: 16m\n"
        "    alertname: E2eApiAvailabilitySLINoData\n"
        "    exp_alerts: []\n"
    )
    result = run_cli("test", str(specs))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "e2e-api.user.test.yml" not in result.stdout  # one line per service
    assert result.stdout.startswith("FAIL  e2e-api (3 files")
    own.write_text(own.read_text().replace("16m", "14m"))
    result = run_cli("test", str(specs))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok    e2e-api (3 files")
