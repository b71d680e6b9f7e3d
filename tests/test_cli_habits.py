"""--errors github, --output json, --quiet, colour only on a terminal, and progress."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, ROOT, run_cli

BAD = (
    "version: promspec/v1\nservice: shop\nteam: web\nslos:\n  - name: x\n    objectiv: 99\n"
    "    indicator: {gauge: {metric: up}}\n"
)


def bad_specs(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(FIXTURES, specs)
    (specs / "shop.yaml").write_text(BAD)
    return specs


def run_in_terminal(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run the CLI with stderr (and stdout) on a pseudo-terminal; what it printed there."""
    controller, terminal = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd, stdout=terminal, stderr=terminal, env={**environ, **(env or {})},
    )  # fmt: skip
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(controller)
    return b"".join(chunks).decode()


def test_errors_as_github_annotations(tmp_path: Path) -> None:
    bad_specs(tmp_path)
    result = run_cli("validate", "--errors", "github", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("::error file=specs/shop.yaml,line=6,col=15,title=promspec::")
    assert lines[0].endswith(
        "::slos[0].objectiv: unknown key 'objectiv' (did you mean 'objective'?)"
    )
    assert lines[-1] == "promspec: 1 problem; nothing was written"


def test_github_errors_from_the_environment_for_ci(tmp_path: Path) -> None:
    bad_specs(tmp_path)
    result = run_cli("check", cwd=tmp_path, env={"PROMSPEC_ERRORS": "github"})
    assert result.returncode == 1
    assert result.stderr.startswith("::error file=specs/shop.yaml,line=6,col=15,title=promspec::")


def test_stale_files_as_github_annotations(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "specs")
    result = run_cli("check", "--errors", "github", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "::error file=out/grafana/checkout-api.json,title=promspec::"
        "missing: out/grafana/checkout-api.json"
    )


def test_json_output_of_generate_validate_and_check(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "specs")
    generate = run_cli("generate", "--output", "json", cwd=tmp_path)
    assert generate.returncode == 0, generate.stderr
    assert json.loads(generate.stdout) == {
        "command": "generate", "ok": True, "exit_code": 0, "services": 1,
        "files": [
            "grafana/checkout-api.json", "grafana/overview.json", "grafana/provisioning.yaml",
            "prometheus/checkout-api.rules.yml",
        ],
        "changed": True, "out": "out",
        "promtool_checked": True, "problems": [], "warnings": [],
    }  # fmt: skip
    check = json.loads(run_cli("check", "--output", "json", cwd=tmp_path).stdout)
    assert check["ok"] is True and check["stale"] == []
    (tmp_path / "specs" / "shop.yaml").write_text(BAD)
    validate = run_cli("validate", "--output", "json", cwd=tmp_path)
    assert validate.returncode == 1
    document = json.loads(validate.stdout)
    assert document["ok"] is False and document["exit_code"] == 1
    assert [(p["file"], p["line"], p["column"]) for p in document["problems"]] == [
        ("specs/shop.yaml", 6, 15)
    ]
    assert document["error"] == "promspec: 1 problem; nothing was written"


def test_json_lists_stale_files(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "specs")
    result = run_cli("check", "--output", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["stale"] == [
        {"state": "missing", "path": f"out/{path}"}
        for path in (
            "grafana/checkout-api.json",
            "grafana/overview.json",
            "grafana/provisioning.yaml",
            "prometheus/checkout-api.rules.yml",
        )
    ]


def test_quiet_prints_problems_only(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "specs")
    result = run_cli("generate", "--quiet", "--format", "alertmanager", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")
    loud = run_cli("generate", "--format", "alertmanager", cwd=tmp_path)
    assert "warning: Alertmanager receiver 'payments-pager'" in loud.stderr
    (tmp_path / "specs" / "shop.yaml").write_text(BAD)
    failed = run_cli("validate", "-q", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: specs/shop.yaml:6:15:")


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    bad_specs(tmp_path)
    red = "\x1b[31m"
    assert red in run_in_terminal("validate", cwd=tmp_path)
    assert red not in run_in_terminal("validate", cwd=tmp_path, env={"NO_COLOR": "1"})
    piped = run_cli("validate", cwd=tmp_path)
    assert "\x1b[" not in piped.stderr and "error: specs/shop.yaml:6:15" in piped.stderr


def many_services(tmp_path: Path, count: int) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    docs = [
        f"version: promspec/v1\nservice: svc-{i}\nteam: web\n"
        f"runbook_base_url: https://runbooks.example.com\n"
        f'absence:\n  - name: scrape\n    target: up{{job="svc-{i}"}}\n'
        for i in range(count)
    ]
    (specs / "all.yaml").write_text("---\n".join(docs))


def test_progress_over_50_services_on_a_terminal_only(tmp_path: Path) -> None:
    many_services(tmp_path, 51)
    shown = run_in_terminal("validate", cwd=tmp_path)
    assert "promspec: compiling 51/51 services" in shown
    assert "compiling 25/51" in shown
    piped = run_cli("validate", cwd=tmp_path)
    assert piped.returncode == 0 and "compiling" not in piped.stderr
    assert "compiling" not in run_in_terminal("validate", "--quiet", cwd=tmp_path)


def test_no_progress_for_50_services(tmp_path: Path) -> None:
    many_services(tmp_path, 50)
    assert "compiling" not in run_in_terminal("validate", cwd=tmp_path)


def test_help_lists_the_habits() -> None:
    for command in ("generate", "validate", "check"):
        text = run_cli(command, "--help", cwd=ROOT).stdout
        for option in ("--errors", "--output", "--quiet", "--format"):
            assert option in text, (command, option)
