"""The command line as users and pre-commit hooks drive it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli, tree_hashes


def copy_fixtures(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    return specs


def test_generate_then_check_is_clean(tmp_path: Path) -> None:
    copy_fixtures(tmp_path)
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # rules, dashboard and two test files of the service, the overview and provisioning
    assert "1 services, 6 files written in out" in result.stdout
    assert (tmp_path / "out" / "prometheus" / "checkout-api.rules.yml").is_file()
    check = run_cli("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "out is up to date" in check.stdout


@pytest.mark.parametrize("cache", [(), ("--no-cache",)], ids=["cached", "compiled"])
def test_second_generate_touches_nothing(tmp_path: Path, cache: tuple[str, ...]) -> None:
    copy_fixtures(tmp_path)
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    path = tmp_path / "out" / "prometheus" / "checkout-api.rules.yml"
    mtime = path.stat().st_mtime_ns
    again = run_cli("generate", *cache, cwd=tmp_path)
    assert "files unchanged" in again.stdout
    assert path.stat().st_mtime_ns == mtime


def test_check_reports_stale_changed_missing_and_extra(tmp_path: Path) -> None:
    specs = copy_fixtures(tmp_path)
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    spec = specs / "checkout-api.yaml"
    spec.write_text(spec.read_text().replace("for: 5m", "for: 10m"))
    (tmp_path / "out" / "prometheus" / "gone.rules.yml").write_text("x")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "changed: out/grafana/checkout-api.json",  # a threshold panel names its `for`
        "changed: out/prometheus/checkout-api.rules.yml",
        "changed: out/tests/checkout-api.test.yml",  # its proof waits out the new `for`
        "extra:   out/prometheus/gone.rules.yml",
        "promspec: out is stale; run `make generate` (or `promspec generate`)",
    ]


def test_generate_replaces_out_as_a_whole(tmp_path: Path) -> None:
    copy_fixtures(tmp_path)
    stray = tmp_path / "out" / "prometheus" / "removed-service.rules.yml"
    stray.parent.mkdir(parents=True)
    stray.write_text("groups: []\n")
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    assert sorted(tree_hashes(tmp_path / "out")) == [
        "grafana/checkout-api.json",
        "grafana/overview.json",
        "grafana/provisioning.yaml",
        "prometheus/checkout-api.rules.yml",
        "tests/checkout-api.long.test.yml",
        "tests/checkout-api.test.yml",
    ]
    leftovers = [p.name for p in tmp_path.iterdir() if "promspec-new" in p.name]
    assert leftovers == []


def test_several_services_per_file_and_duplicates_across_files(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    base = (
        "version: promspec/v1\nservice: {name}\nteam: web\n"
        "runbook_base_url: https://runbooks.example.com\n"
        'absence:\n  - name: scrape\n    target: up{{job="{name}"}}\n'
    )
    (specs / "a.yaml").write_text(base.format(name="one") + "---\n" + base.format(name="two"))
    assert run_cli("generate", cwd=tmp_path).returncode == 0
    assert sorted(tree_hashes(tmp_path / "out")) == [
        "grafana/one.json",
        "grafana/overview.json",
        "grafana/provisioning.yaml",
        "grafana/two.json",
        "prometheus/one.rules.yml",
        "prometheus/two.rules.yml",
        "tests/one.test.yml",
        "tests/two.test.yml",
    ]
    (specs / "b.yaml").write_text(base.format(name="two"))
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "error: specs/b.yaml:2:10: service: service 'two' is also defined in specs/a.yaml:10; "
        "service names must be unique across all specs"
    )


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run_cli("generate", "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_missing_specs_directory(tmp_path: Path) -> None:
    result = run_cli("generate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: specs: no such file or directory"


def test_schema_is_json_with_descriptions() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "objective" in schema["$defs"]["slo"]["properties"]


def test_help_is_useful() -> None:
    for command in ("generate", "validate", "check", "schema", "test"):
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "Usage:" in result.stdout


def test_validate_runs_promtool_and_writes_nothing(tmp_path: Path) -> None:
    copy_fixtures(tmp_path)
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 services valid (promtool check rules passed)" in result.stdout
    assert not (tmp_path / "out").exists()


def test_a_shell_glob_naming_the_defaults_file_compiles_like_the_directory(tmp_path: Path) -> None:
    """`promspec generate specs/*.yaml` names _defaults.yaml and hand-written tests too."""
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    (specs / "checkout-api.test.yml").write_text("tests: []\n")
    whole = run_cli("generate", "specs", "--out", "a", "--no-promtool", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    files = sorted(p.name for p in specs.iterdir())
    assert files == ["_defaults.yaml", "checkout-api.test.yml", "checkout-api.yaml"]
    named = run_cli(
        "generate", *(f"specs/{f}" for f in files), "--out", "b", "--no-promtool", cwd=tmp_path
    )
    assert named.returncode == 0, named.stderr
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
