"""The repository's own specs: out/ is current and promtool accepts all of it."""

from __future__ import annotations

import subprocess

from conftest import ROOT, run_cli


def test_out_is_up_to_date_with_specs() -> None:
    result = run_cli("check")
    assert result.returncode == 0, result.stderr + "\nrun `make generate` and commit out/"


def test_promtool_accepts_out() -> None:
    files = sorted((ROOT / "out").rglob("*.rules.yml"))
    assert files
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
