"""`promspec test`: run promtool's unit tests on the generated tests and the user's own.

The generated tests are built by the run itself (pipeline.compile_specs with `proofs`),
never read from out/, and written with the rule files they prove to a temporary tree
(`proof_files`: tests/ beside prometheus/), so they prove what the specs compile to now.
`--write-proofs DIR` writes the same tree to DIR. Hand-written tests kept next to a spec
(specs/<service>.test.yml) are copied beside the generated ones and name the rules the
same way: `../prometheus/<service>.rules.yml`, and run as written. Generated tests are
split by the rules they need (`_split`), the costliest part of a run.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import conventions
from generator.errors import ToolError
from generator.outputs import check
from generator.pipeline import Result
from generator.promql import fragments as promql

TIMEOUT = 1800

Rule = tuple[str, dict[str, Any]]  # (its group's evaluation interval, the rule)


@dataclass(frozen=True)
class Outcome:
    service: str
    files: int
    seconds: float
    failures: tuple[str, ...]  # promtool's report, one entry per failing file

    @property
    def ok(self) -> bool:
        return not self.failures


def run_file(tool: str, path: Path) -> tuple[float, str | None]:
    """`promtool test rules` on one file where it lies: seconds, and the report if it failed."""
    start = time.monotonic()
    proc = subprocess.run(
        [tool, "test", "rules", path.name],
        cwd=path.parent,
        env=check.environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )
    took = time.monotonic() - start
    return took, None if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def _names(test: dict[str, Any]) -> tuple[set[str], list[tuple[str, dict[str, str]]]]:
    """The alert names a test asserts on, and every alert it expects with its labels."""
    asserted, expected = set(), []
    for alert_test in test.get("alert_rule_test") or []:
        name = str(alert_test.get("alertname"))
        asserted.add(name)
        for alert in alert_test.get("exp_alerts") or []:
            expected.append((name, dict(alert.get("exp_labels") or {})))
    return asserted, expected


def _reads(selectors: list[tuple[str, tuple[promql.Matcher, ...]]], rule: dict[str, Any]) -> bool:
    """Whether an expression with these selectors may read what recording `rule` writes:
    its name under matchers that do not exclude the rule's own labels. Anything unsure
    counts as read."""
    labels = rule.get("labels") or {}
    for name, matchers in selectors:
        if name != rule["record"]:
            continue
        if all(m.op != "=" or labels.get(m.name, m.value) == m.value for m in matchers):
            return True
    return False


def _needed(rules: list[Rule], test: dict[str, Any], interval: str) -> tuple[int, ...]:
    """Indices of the rules one test needs: the alerts it asserts on, the series its
    promql_expr_test reads, and every recording rule those read, transitively.

    A burn-tier alert evaluated at another interval than the file's is proven in the file
    of its own interval (30s for the page tiers, 5m for the ticket tiers), so it is left
    out here unless the test expects it to fire. Results are exactly those of the whole
    rule file for every rule kept, and every rule the test is about is kept.
    """
    asserted, expected = _names(test)
    keep: set[int] = set()
    for i, (group_interval, rule) in enumerate(rules):
        name = rule.get("alert")
        if name is None or name not in asserted:
            continue
        labels = rule.get("labels") or {}
        other_tier = conventions.BURN_TIER_LABEL in labels and group_interval != interval
        fires = any(
            alert == name and all(want.get(k) == v for k, v in labels.items())
            for alert, want in expected
        )
        if not other_tier or fires:
            keep.add(i)
    exprs = [str(rule["expr"]) for i, (_, rule) in enumerate(rules) if i in keep]
    exprs += [str(c.get("expr", "")) for c in test.get("promql_expr_test") or []]
    while exprs:
        selectors = promql.vector_selectors(exprs.pop())  # parsed once, not once per rule
        for i, (_, rule) in enumerate(rules):
            if i not in keep and "record" in rule and _reads(selectors, rule):
                keep.add(i)
                exprs.append(str(rule["expr"]))
    return tuple(sorted(keep))


def _split(path: Path) -> list[Path]:
    """One file per set of rules the tests need, each with only those rules: the same
    results for the rules a test is about, and far less work.

    promtool evaluates every rule of its rule files at every step of every test, hours
    of 30s steps for a burn scenario; most of a service's rules (other SLOs, other
    checks, the period and slow windows) are not what a given test reads or asserts.
    """
    data = yaml.safe_load(path.read_text("utf-8"))
    tests = data.get("tests") or []
    if not tests or len(data.get("rule_files") or []) != 1:
        return [path]
    rules_path = (path.parent / data["rule_files"][0]).resolve()
    groups = yaml.safe_load(rules_path.read_text("utf-8"))["groups"]
    interval = str(data.get("evaluation_interval", "1m"))
    rules: list[Rule] = [(str(g.get("interval", interval)), r) for g in groups for r in g["rules"]]
    where = [(gi, ri) for gi, g in enumerate(groups) for ri in range(len(g["rules"]))]
    buckets: dict[tuple[int, ...], list[Any]] = {}
    for test in tests:
        buckets.setdefault(_needed(rules, test, interval), []).append(test)
    out = []
    stem = path.name.removesuffix(".yml")
    for n, (keep, part_tests) in enumerate(buckets.items(), 1):
        wanted = {where[i] for i in keep}
        kept = [
            {**g, "rules": [r for ri, r in enumerate(g["rules"]) if (gi, ri) in wanted]}
            for gi, g in enumerate(groups)
        ]
        kept = [g for g in kept if g["rules"]]
        subset = rules_path.with_name(f"{rules_path.stem}.{stem}.{n}.yml")
        subset.write_text(yaml.safe_dump({"groups": kept}, sort_keys=False), "utf-8")
        names = {g["name"] for g in kept}
        part = {**data, "rule_files": [os.path.relpath(subset, path.parent)], "tests": part_tests}
        if "group_eval_order" in data:
            part["group_eval_order"] = [g for g in data["group_eval_order"] if g in names]
        target = path.with_name(f"{stem}.{n}.yml")
        target.write_text(yaml.safe_dump(part, sort_keys=False), "utf-8")
        out.append(target)
    path.unlink()
    return out


def proof_files(result: Result) -> dict[str, bytes]:
    """The generated tests of every service (tests/<service>.test.yml and .long.test.yml)
    and the plain rule files they name (prometheus/<service>.rules.yml): a tree that
    `promtool test rules tests/*.yml` runs as it is, wherever it is written."""
    files = dict(result.proofs)
    for service in result.services:
        rules = conventions.rules_path(service.name)
        if service.name in result.proven:
            files[rules] = result.plain[rules]
    return dict(sorted(files.items()))


def shard(names: list[str], k: int, n: int) -> set[str]:
    """Shard k of n (1-based): every n-th service in name order, starting with the k-th.
    Deterministic, so n CI jobs with k = 1..n prove every service exactly once."""
    return {name for i, name in enumerate(sorted(names)) if i % n == k - 1}


def run(result: Result) -> list[Outcome]:
    """Run the tests of a compile_specs(..., proofs=True) result, and the user's own, for
    the services it proves (`result.proven`)."""
    tool = check.promtool()
    if tool is None:
        raise ToolError(check.PROMTOOL_HINT)
    with tempfile.TemporaryDirectory(prefix="promspec-test-") as tmp:
        root = Path(tmp)
        for rel, content in proof_files(result).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        jobs: dict[str, list[Path]] = {}
        sources: dict[str, int] = {}  # test files per service, before the split
        for service in result.services:
            if service.name not in result.proven:
                continue
            paths = []
            generated = [
                root / rel for rel in result.proofs if conventions.is_tests_of(rel, service.name)
            ]
            for path in generated:
                paths.extend(_split(path))
            own = Path(conventions.user_tests_path(service.source, service.name))
            if own.is_file():
                # The user's own tests run as written, against the whole rule file.
                target = root / "tests" / f"{service.name}.user.test.yml"
                target.write_bytes(own.read_bytes())
                paths.append(target)
            jobs[service.name] = paths
            sources[service.name] = len(generated) + own.is_file()
        flat = [(name, p) for name, paths in jobs.items() for p in paths]
        workers = max(1, min(len(flat), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(lambda item: run_file(tool, item[1]), flat))
    outcomes = []
    for name, paths in jobs.items():
        mine = [d for (n, _), d in zip(flat, done, strict=True) if n == name]
        failures = tuple(
            f"{p.name}: {report}" for p, (_, report) in zip(paths, mine, strict=True) if report
        )
        outcomes.append(
            Outcome(name, sources[name], max((s for s, _ in mine), default=0.0), failures)
        )
    return outcomes
