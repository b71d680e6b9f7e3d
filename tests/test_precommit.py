"""The pre-commit hooks as an infra repo runs them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def test_hook_definitions() -> None:
    assert [h["id"] for h in HOOKS] == ["promspec-check", "promspec-validate"]
    entries = {h["id"]: h["entry"] for h in HOOKS}
    assert entries == {
        "promspec-check": "promspec check",
        "promspec-validate": "promspec validate",
    }
    for hook in HOOKS:
        assert hook["name"]
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        files = re.compile(hook["files"])
        assert files.search("specs/checkout-api.yaml")
        assert files.search("specs/teams/payments.yml")
        assert not files.search("README.md")
        assert not files.search("app/specs.py")
    check = re.compile(HOOKS[0]["files"])
    assert check.search("out/prometheus/checkout-api.rules.yml")  # a hand edit of out/ too


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def snapshot_of_this_repo(target: Path) -> None:
    """The project as it is now (committed or not) as a git repo pre-commit can install."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for rel in listed:
        if (ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target / rel)
    git("init", "-q", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-qm", "snapshot", cwd=target)


@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed (dev extra)")
def test_hooks_run_in_an_infra_repo_with_try_repo(tmp_path: Path) -> None:
    project, infra = tmp_path / "promspec", tmp_path / "infra"
    project.mkdir()
    infra.mkdir()
    snapshot_of_this_repo(project)
    shutil.copytree(FIXTURES, infra / "specs")
    git("init", "-q", cwd=infra)
    git("add", "-A", cwd=infra)
    git("commit", "-qm", "specs", cwd=infra)
    env = {"PRE_COMMIT_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PRE_COMMIT), "try-repo", str(project), hook, "--all-files"],
            cwd=infra, capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip

    stale = try_repo("promspec-check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "missing: out/prometheus/checkout-api.rules.yml" in stale.stdout
    assert "promspec: out is stale; run `make generate`" in stale.stdout

    generated = subprocess.run(
        [sys.executable, "-m", "generator", "generate"], cwd=infra, capture_output=True, text=True
    )
    assert generated.returncode == 0, generated.stderr
    git("add", "-A", cwd=infra)
    git("commit", "-qm", "out", cwd=infra)
    for hook in ("promspec-check", "promspec-validate"):
        ok = try_repo(hook)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Passed" in ok.stdout

    spec = infra / "specs" / "checkout-api.yaml"
    spec.write_text(spec.read_text().replace("objective: 99\n", "objective: 100\n"))
    broken = try_repo("promspec-validate")
    assert broken.returncode == 1
    assert "error: specs/checkout-api.yaml:" in broken.stdout


DOC_BLOCKS = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "integrations.md").read_text(), re.S)


def test_documented_pre_commit_config_uses_our_hooks() -> None:
    config = next(yaml.safe_load(b) for b in DOC_BLOCKS if b.startswith("repos:"))
    ids = [hook["id"] for repo in config["repos"] for hook in repo["hooks"]]
    assert sorted(ids) == sorted(h["id"] for h in HOOKS)


def test_documented_ci_job_checks_generates_and_publishes_out_and_proofs() -> None:
    workflow = next(yaml.safe_load(b) for b in DOC_BLOCKS if b.startswith("name: promspec"))
    steps = workflow["jobs"]["rules"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "make check" in runs and "make generate" in runs
    uploads = {
        s["with"]["name"]: s
        for s in steps
        if s.get("uses", "").startswith("actions/upload-artifact")
    }
    assert uploads["promspec-out"]["with"]["path"] == "out/"
    # The proofs are published from where `promspec test` wrote them, a failed run's too.
    assert ".venv/bin/promspec test --write-proofs proofs" in runs
    assert uploads["promspec-proofs"]["with"]["path"] == "proofs/"
    assert uploads["promspec-proofs"]["if"] == "always()"
    assert workflow["jobs"]["rules"]["env"] == {"PROMSPEC_ERRORS": "github"}
