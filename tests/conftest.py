"""Shared helpers: run the real CLI in a subprocess, as users and pre-commit do."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "specs"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 300
):
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def tree_hashes(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one_slo_spec(objective: str = "99.9", period: str = "30d", alerting: str = "") -> str:
    """Service `a` with one ratio SLO `g`; `alerting` is its policy as one-line YAML
    mappings, one per line (`page_fast: {budget_percent: 0.5}`)."""
    text = (
        "version: promspec/v1\nservice: a\nteam: a\n"
        "runbook_base_url: https://runbooks.example.com/x\n"
        f"slos:\n  - name: g\n    objective: {objective}\n    period: {period}\n"
        "    indicator:\n      ratio: {errors: _, total: _0}\n"
    )
    if alerting:
        text += "    alerting:\n" + "".join(f"      {line}\n" for line in alerting.splitlines())
    return text


# A 99.9%/30d ratio SLO at the workbook defaults: the page-timing proofs, under promtool
# (test_page_timing) and on a real Prometheus (test_e2e).
SHOP_SPEC = """\
version: promspec/v1
service: shop
team: shop
runbook_base_url: https://runbooks.example.com/shop
selector: {job: shop}
slos:
  - name: availability
    objective: 99.9
    period: 30d
    indicator:
      ratio:
        errors: http_requests_total{code=~"5.."}
        total: http_requests_total
"""
