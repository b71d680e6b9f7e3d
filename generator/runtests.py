"""`promspec test`: run promtool's unit tests on the generated tests and the user's own.

The compiled rules and tests are written to a temporary tree shaped like out/, so the
tests prove what the specs compile to now, not a stale out/. Hand-written tests kept next
to a spec (specs/<service>.test.yml) are copied beside the generated ones and name the
rules the same way: `../prometheus/<service>.rules.yml`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator import check, conventions
from generator.errors import ToolError
from generator.pipeline import Result

TIMEOUT = 1800


@dataclass(frozen=True)
class Outcome:
    service: str
    files: int
    seconds: float
    failures: tuple[str, ...]  # promtool's report, one entry per failing file

    @property
    def ok(self) -> bool:
        return not self.failures


def _run(tool: str, path: Path) -> tuple[float, str | None]:
    start = time.monotonic()
    proc = subprocess.run(
        [tool, "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )
    took = time.monotonic() - start
    return took, None if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def _split_by_slo(path: Path, slos: list[str]) -> list[Path]:
    """One file per SLO, each with only that SLO's rules: same results, far less work.

    promtool evaluates every rule of its rule files at every step of every test. An SLO's
    rules read only raw series and that SLO's own recorded series (selected by its slo
    label), so evaluating them alone gives exactly the values and alerts the whole file
    gives. Generated test names start with '<slo>:'; anything else stays whole.
    """
    data = yaml.safe_load(path.read_text("utf-8"))
    by_slo: dict[str, list[object]] = {}
    rest: list[object] = []
    for test in data.get("tests") or []:
        slo = str(test.get("name", "")).split(":", 1)[0]
        (by_slo.setdefault(slo, []) if slo in slos else rest).append(test)
    if not by_slo or len(data.get("rule_files", [])) != 1:
        return [path]
    rules_path = (path.parent / data["rule_files"][0]).resolve()
    rules = yaml.safe_load(rules_path.read_text("utf-8"))
    out = []
    for slo, tests in by_slo.items():
        groups = [
            {**g, "rules": [r for r in g["rules"] if r.get("labels", {}).get("slo") == slo]}
            for g in rules["groups"]
        ]
        groups = [g for g in groups if g["rules"]]
        subset = rules_path.with_name(f"{rules_path.stem}.{slo}.yml")
        subset.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), "utf-8")
        names = {g["name"] for g in groups}
        part = {
            **data,
            "rule_files": [os.path.relpath(subset, path.parent)],
            "tests": tests,
        }
        if "group_eval_order" in data:
            part["group_eval_order"] = [n for n in data["group_eval_order"] if n in names]
        target = path.with_name(f"{path.name.removesuffix('.yml')}.{slo}.yml")
        target.write_text(yaml.safe_dump(part, sort_keys=False), "utf-8")
        out.append(target)
    if rest:
        path.write_text(yaml.safe_dump({**data, "tests": rest}, sort_keys=False), "utf-8")
        out.append(path)
    return out


def run(result: Result) -> list[Outcome]:
    tool = check.promtool()
    if tool is None:
        raise ToolError(check.PROMTOOL_HINT)
    with tempfile.TemporaryDirectory(prefix="promspec-test-") as tmp:
        root = Path(tmp)
        for rel, content in result.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        jobs: dict[str, list[Path]] = {}
        for service in result.services:
            slos = [slo.name for slo in service.slos]
            paths = []
            for generated in (
                root / conventions.tests_path(service.name),
                root / conventions.long_tests_path(service.name),
            ):
                if generated.is_file():
                    paths.extend(_split_by_slo(generated, slos))
            own = Path(conventions.user_tests_path(service.source, service.name))
            if own.is_file():
                target = root / "tests" / f"{service.name}.user.test.yml"
                target.write_bytes(own.read_bytes())
                paths.append(target)
            jobs[service.name] = [p for p in paths if p.is_file()]
        flat = [(name, p) for name, paths in jobs.items() for p in paths]
        workers = max(1, min(len(flat), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(lambda item: _run(tool, item[1]), flat))
    outcomes = []
    for name, paths in jobs.items():
        mine = [d for (n, _), d in zip(flat, done, strict=True) if n == name]
        failures = tuple(
            f"{p.name}: {report}" for p, (_, report) in zip(paths, mine, strict=True) if report
        )
        outcomes.append(Outcome(name, len(paths), max((s for s, _ in mine), default=0.0), failures))
    return outcomes
