"""What do the generated rules cost Prometheus, and how exact are their windows?

For one ratio SLO over synthetic counters at 10, 100 and 1,000 series with 3 days of
backfilled history, in a real Prometheus on 127.0.0.1 with a temporary TSDB:

- cost: samples touched per hour of rule evaluation (samples of one evaluation of each
  rule, from the query API's `stats=all`, times evaluations per hour of its group),
  the query engine's evaluation time, and each rule group's `evaluationTime` in
  `/api/v1/rules` with the rules loaded and the counters scraped live after the
  history, for promspec's rules, the usual shape (every window from the raw counters,
  every 30 s) and the floor (the 5m raw rules alone);
- accuracy: every window's error ratio from promspec's rules and from the usual shape,
  against the exact ratio of the synthetic counters, for steady and bursty traffic.

History: raw counters through `promtool tsdb create-blocks-from openmetrics`; recorded
series through `promtool tsdb create-blocks-from rules`, one dependency level at a time
(bench/rulesets.py). See docs/benchmarks.md for the method and the figures.

usage: python bench/bench_eval.py [--sizes 10,100,1000] [--repeat N] [--quick] [--cost]
(`make bench` runs all benchmarks with their defaults; only a run of all sizes saves
results, a --cost one to bench/results/eval-cost.json.
--cost takes the targets' figures alone: samples and query time against the usual shape
and the floor, and the steady accuracy, without the live groups, the 5m rule's anatomy
and the bursty histories: ~10 minutes at 1,000 series instead of ~40 for a full run.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
import rulesets  # noqa: E402
import traffic  # noqa: E402
from common import machine, save  # noqa: E402
from prom_server import MetricsEndpoint, PrometheusServer  # noqa: E402

DAY_S = 86400
# 3 days for the longest alert window, plus the hour over which accuracy is sampled.
HISTORY_S = 3 * DAY_S + 3600
ACCURACY_TIMES = 8  # steady traffic: evaluation timestamps, 7.5 min apart, over the last hour
ACCURACY_STEP_S = 450
# Bursty traffic: a short window's error depends on where the hourly steps fall and how
# large they are, so sample every 5 min (each phase of the hour) over the last 6 hours,
# for several hourly patterns; the history grows by those 6 hours.
BURSTY_HISTORY_S = 3 * DAY_S + 6 * 3600
BURSTY_TIMES = 72
BURSTY_STEP_S = 300
BURSTY_SEEDS = (1, 2, 3)
SHORT_BACKFILL_S = 900  # series only read at an instant need a recent sample, no history
FULL_SIZES = [10, 100, 1000]
BURSTY_SIZE = 100
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
# Issue 20: at most 1/500 of the usual shape (issue 6 asked 1/100) and 1.5x the floor.
TARGETS = {"promspec_over_usual": 1 / 500, "promspec_over_floor": 1.5, "accuracy": 0.01}
PAGE_TIERS = ("page_fast", "page_slow")
# Live groups: the steady history ends this far in the future (rounded up to 5 minutes),
# time enough to build it and run the query-API measurements, so the live server starts
# before the history's end and its scrapes and rule writes continue it without a gap.
LIVE_LEAD_S = 120
LIVE_LEAD_PER_SERIES_S = 0.3
# Evaluations after the history's end are kept for this long: about ten of each group.
# The live copy of the rule files evaluates every group every 30 s, so that the 5-minute
# groups are measured as often as the others (an evaluation reads the same series
# whatever the interval); each group is then counted at its own interval per hour.
LIVE_S = 330
LIVE_INTERVAL = "30s"
LIVE_POLL_S = 5


def promtool(*args: str) -> None:
    proc = subprocess.run(["promtool", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool {args[:3]} failed: {proc.stderr.strip()[-2000:]}")


def move_blocks(src: Path, data: Path) -> None:
    for block in src.iterdir():
        if block.is_dir():
            block.rename(data / block.name)


def server(data: Path) -> PrometheusServer:
    # No rule files: every rule is evaluated through the query API at a chosen
    # timestamp, and no rule group evaluates beside the measured queries.
    return PrometheusServer([], data_dir=data, retention="90d", api_timeout=300.0)


def backfill_raw(root: Path, load: traffic.Traffic, data: Path) -> dict[str, Any]:
    start = time.perf_counter()
    text = root / "raw.om"
    size = traffic.write_openmetrics(load, text)
    written = time.perf_counter()
    # Blocks up to 54h (Prometheus compacts old data into such blocks too): without the
    # flag promtool re-reads the whole file for every 2h block.
    promtool(
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "-q",
        "--max-block-duration=54h",
        str(text),
        str(data),
    )
    text.unlink()
    return {
        "openmetrics_mib": round(size / 2**20, 1),
        "write_s": round(written - start, 1),
        "promtool_s": round(time.perf_counter() - written, 1),
    }


def backfill_rules(
    root: Path, rules: list[dict[str, Any]], data: Path, end: int, history_s: int, attempt: int
) -> float:
    """Recorded history: series read over the past get all of it, others the last minutes."""
    start = time.perf_counter()
    # One path for every pass: the group's evaluation offset hashes its name and file,
    # so every level lands on the same timestamps, as one live group's rules do.
    path = root / "backfill" / f"rules-{attempt}.yml"
    path.parent.mkdir()
    for level in rulesets.backfill_levels(rules):
        out = root / "backfill" / "blocks"
        out.mkdir()
        with server(data) as prom:
            for ranged in (True, False):
                part = [r for r in level if rulesets.needs_history(r["record"], rules) == ranged]
                if not part:
                    continue
                begin = end - history_s if ranged else end - SHORT_BACKFILL_S
                rulesets.rule_file(part, path)
                promtool(
                    "tsdb",
                    "create-blocks-from",
                    "rules",
                    "-q",
                    f"--url={prom.url}",
                    f"--start={begin}",
                    f"--end={end}",
                    f"--output-dir={out}",
                    str(path),
                )
        move_blocks(out, data)
        out.rmdir()
    return round(time.perf_counter() - start, 1)


def query(prom: PrometheusServer, expr: str, at: float) -> dict[str, Any]:
    data: dict[str, Any] = prom.api("query", query=expr, time=f"{at:.3f}", stats="all")
    return data


def value(result: dict[str, Any]) -> float | None:
    series = result["result"]
    return float(series[0]["value"][1]) if len(series) == 1 else None


def grid_time(prom: PrometheusServer, end: int) -> float:
    """The last evaluation timestamp of promspec's slo-fast group in the history."""
    expr = 'timestamp(slo:sli_events:rate5m{service="bench",slo="availability",events="total"})'
    at = value(query(prom, expr, end))
    if at is None:
        raise RuntimeError("no recorded slo:sli_events:rate5m at the end of the history")
    return at


def observe(
    prom: PrometheusServer, rules: dict[str, list[dict[str, Any]]], at: float, repeat: int
) -> dict[str, list[list[tuple[int, float]]]]:
    """(samples, seconds) of every rule's query, rounds interleaved over the rule sets so
    they share the machine's load; the first round only warms caches and is not timed."""
    seen: dict[str, list[list[tuple[int, float]]]] = {
        k: [[] for _ in rs] for k, rs in rules.items()
    }
    for round_ in range(repeat + 1):
        for ruleset, rs in rules.items():
            for i, rule in enumerate(rs):
                stats = query(prom, rule["expr"], at)["stats"]
                touched = stats["samples"]["totalQueryableSamples"]
                if round_:
                    seen[ruleset][i].append((touched, stats["timings"]["evalTotalTime"]))
    return seen


def raw_parts(rules: list[dict[str, Any]]) -> dict[str, str]:
    """promspec's 5m rule over the raw counters (as generated), and the parts it is made of."""
    [whole] = [
        r["expr"]
        for r in rules
        if r["record"] == "slo:sli_events:rate5m" and r["labels"]["events"] == "total"
    ]
    x = rulesets.TOTAL
    return {
        "whole rule": whole,
        "x - x offset 5m": f"sum({x} - {x} offset 5m)",
        "sum(x) - sum(x offset 5m)": f"sum({x}) - sum({x} offset 5m)",  # without the match
        "x (now)": f"sum({x})",
        "x offset 5m": f"sum({x} offset 5m)",
        "rate(x[5m]) (the floor's rule)": f"sum(rate({x}[5m]))",
    }


ANATOMY_ROUNDS = 60  # a few milliseconds each; 5 rounds left the parts' order to noise


def anatomy(
    prom: PrometheusServer, at: float, rules: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Where the 5m rule's evaluation time goes: each part queried alone (median ms,
    rounds interleaved after a warm-up one, as in `observe`)."""
    parts = raw_parts(rules)
    seen: dict[str, list[float]] = {name: [] for name in parts}
    for round_ in range(ANATOMY_ROUNDS + 1):
        for name, expr in parts.items():
            stats = query(prom, expr, at)["stats"]
            if round_:
                seen[name].append(stats["timings"]["evalTotalTime"])
    return {
        name: {"eval_ms": round(1000 * statistics.median(times), 3)} for name, times in seen.items()
    }


def cost_of(rule: dict[str, Any], seen: list[tuple[int, float]]) -> dict[str, Any]:
    samples = {n for n, _ in seen}
    if len(samples) != 1:
        raise RuntimeError(f"samples touched changed between runs: {rule['expr']}")
    per_hour = 3600 / rule["interval_s"]
    touched = samples.pop()
    eval_s = statistics.median(t for _, t in seen)
    return {
        "rule": rule["record"] or rule["alert"],
        "group": rule["group"],
        "interval_s": rule["interval_s"],
        "samples_per_eval": touched,
        "samples_per_hour": round(touched * per_hour),
        "eval_ms": round(1000 * eval_s, 3),
        "eval_s_per_hour": round(eval_s * per_hour, 4),
        "reads_period": "[30d]" in rule["expr"],
    }


def cost(
    rules: list[dict[str, Any]], seen: list[list[tuple[int, float]]], history_s: float
) -> dict[str, Any]:
    per_rule = [cost_of(r, s) for r, s in zip(rules, seen, strict=True)]
    groups: dict[str, dict[str, Any]] = {}
    for c in per_rule:
        g = groups.setdefault(
            c["group"], {"interval_s": c["interval_s"], "samples_per_eval": 0, "eval_ms": 0.0}
        )
        g["samples_per_eval"] += c["samples_per_eval"]
        g["eval_ms"] = round(g["eval_ms"] + c["eval_ms"], 3)
    # The period reads all history there is; with a full 30 days it reads this much more.
    scale = 30 * DAY_S / history_s
    projected = sum(c["samples_per_hour"] * (scale if c["reads_period"] else 1) for c in per_rule)
    return {
        "samples_per_hour": sum(c["samples_per_hour"] for c in per_rule),
        "samples_per_hour_30d_history": round(projected),
        "eval_s_per_hour": round(sum(c["eval_s_per_hour"] for c in per_rule), 3),
        "groups": groups,
        "rules": sorted(per_rule, key=lambda c: -c["samples_per_hour"]),
    }


def ratio_rules(rules: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    """window -> expr of the error-ratio rules (`<prefix>:sli_error:ratio_rate<w>`)."""
    name = f"{prefix}:sli_error:ratio_rate"
    return {
        r["record"].removeprefix(name): r["expr"]
        for r in rules
        if (r["record"] or "").startswith(name)
    }


def accuracy(
    prom: PrometheusServer, load: traffic.Traffic, rules: dict[str, list[Any]], times: list[float]
) -> dict[str, Any]:
    """Relative error of each window's ratio, per rule set: against what the raw counters
    as scraped gained in the window (the target's figure) and, under "events", against
    the events that happened in it. The maximum over the timestamps, and the median."""
    exprs = {
        "promspec": ratio_rules(rules["promspec"], "slo"),
        "usual": ratio_rules(rules["usual"], "usual"),
    }
    exact = {"scraped": load.scraped_ratio, "events": load.events_ratio}
    out: dict[str, Any] = {}
    for ruleset, by_window in exprs.items():
        out[ruleset] = {"median": {}, "events": {"median": {}}}
        for w in WINDOWS:
            got = [value(query(prom, by_window[w], at)) for at in times]
            for against, ratio in exact.items():
                errors = []
                for at, g in zip(times, got, strict=True):
                    want = ratio(at - rulesets.seconds(w), at)
                    errors.append(abs(g - want) / want if g is not None else float("inf"))
                where = out[ruleset] if against == "scraped" else out[ruleset]["events"]
                where[w] = round(max(errors), 6)
                where["median"][w] = round(statistics.median(errors), 6)
        out[ruleset]["max"] = max(out[ruleset][w] for w in WINDOWS)
        out[ruleset]["events"]["max"] = max(out[ruleset]["events"][w] for w in WINDOWS)
    return out


def times_before(last: float, count: int, step: int) -> list[float]:
    return [last - i * step for i in range(count)]


def page_tiers_every_30s(rules: list[dict[str, Any]]) -> bool:
    """Page alerts, and every recorded series they read, are evaluated every 30 s or faster."""
    records = {r["record"]: r for r in rules if r["record"]}
    seen: set[str] = set()  # a 5m base rule reads its own family (errors read the total)

    def fast(expr: str) -> bool:
        refs = rulesets.references(expr, set(records)) - seen
        seen.update(refs)
        return all(records[n]["interval_s"] <= 30 and fast(records[n]["expr"]) for n in refs)

    pages = [r for r in rules if r["alert"] and r["labels"].get("burn_tier") in PAGE_TIERS]
    return bool(pages) and all(r["interval_s"] <= 30 and fast(r["expr"]) for r in pages)


def holes(data: Path, rules: list[dict[str, Any]], start: int, end: int) -> list[str]:
    """Recorded series read over the past that lack an evaluation in the last interval of
    a 2h block. `create-blocks-from rules` ends each block's query at a whole second, so
    a group whose evaluation offset falls in the last second of its interval (about 1
    group in 30 at 30 s) loses the evaluation before every block boundary; a window that
    reads that sample at an offset then reads the one before, and is off by an interval."""
    past = [r for r in rules if r["record"] and rulesets.needs_history(r["record"], rules)]
    found = []
    with server(data) as prom:
        for interval in sorted({r["interval_s"] for r in past}):
            names = sorted({r["record"] for r in past if r["interval_s"] == interval})
            selector = '{__name__=~"' + "|".join(re.escape(n) for n in names) + '"}'
            first = start + 7200 - start % 7200 + 7200  # after each rule's first evaluation
            for boundary in range(first, end - interval, 7200):
                # A range selector alone: a matrix, with each series' name and samples.
                expr = f"{selector}[{interval}s]"
                got = {r["metric"]["__name__"] for r in query(prom, expr, boundary)["result"]}
                found += [f"{n} before {boundary}" for n in names if n not in got]
    return found


BACKFILL_ATTEMPTS = 4


def dataset(
    root: Path, load: traffic.Traffic, rules: dict[str, list[Any]]
) -> tuple[Path, dict[str, Any]]:
    data = root / f"tsdb-{load.shape}-{load.series}"
    every = [r for rs in rules.values() for r in rs]
    history_s = load.end - load.start
    for attempt in range(1, BACKFILL_ATTEMPTS + 1):
        data.mkdir()
        build = backfill_raw(root, load, data)
        build["rules_backfill_s"] = backfill_rules(root, every, data, load.end, history_s, attempt)
        shutil.rmtree(root / "backfill")
        missing = holes(data, every, load.start, load.end)
        build["attempt"] = attempt
        if not missing:
            return data, build
        # Another rule file name: other evaluation offsets (see `holes`).
        print(f"  backfill left {len(missing)} holes ({missing[0]}); again", flush=True)
        shutil.rmtree(data)
    raise RuntimeError(f"the rules backfill left holes {BACKFILL_ATTEMPTS} times: {missing[:3]}")


class LiveCounters(MetricsEndpoint):
    """The synthetic counters as a target, at the time of each scrape."""

    def __init__(self, load: traffic.Traffic) -> None:
        super().__init__()
        self.load = load

    def render(self) -> str:
        return traffic.exposition(self.load, time.time())


def evaluated_at(stamp: str) -> float:
    """Unix seconds of an RFC 3339 time as the API gives it (nanoseconds cut to micro)."""
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp.replace("Z", "+00:00"))
    return datetime.fromisoformat(stamp).timestamp()


def live(load: traffic.Traffic, data: Path, files: dict[str, Path]) -> dict[str, Any]:
    """Every group's `evaluationTime` in /api/v1/rules, with the three rule sets loaded
    in one server that scrapes the counters live. Only evaluations after the history's
    end are kept: before it, the TSDB refuses the live samples and rule writes (older
    than its newest block), and rules read the backfilled ones instead."""
    live_files, interval_of = {}, {}
    for name, path in files.items():
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            interval_of[group["name"]] = rulesets.seconds(group.get("interval", "1m"))
            group["interval"] = LIVE_INTERVAL
        live_files[name] = path.with_name(f"live.{path.name}")
        live_files[name].write_text(yaml.safe_dump(doc, sort_keys=False))
    ruleset_of = {str(path): name for name, path in live_files.items()}
    seen: dict[tuple[str, str], dict[float, float]] = {}
    with (
        LiveCounters(load) as counters,
        PrometheusServer(
            list(live_files.values()),
            targets={traffic.JOB: f"127.0.0.1:{counters.port}"},
            interval=f"{traffic.SCRAPE_S}s",
            data_dir=data,
            retention="90d",
            api_timeout=60.0,
            honor_labels=True,
        ) as prom,
    ):
        late_s = max(0.0, time.time() - load.end)
        while time.time() < load.end + LIVE_S:
            for group in prom.api("rules")["groups"]:
                at = evaluated_at(group["lastEvaluation"])
                if at <= load.end:
                    continue
                key = (ruleset_of[group["file"]], group["name"])
                seen.setdefault(key, {})[at] = group["evaluationTime"]
            time.sleep(LIVE_POLL_S)
    out: dict[str, Any] = {"late_s": round(late_s, 1)}
    for ruleset in files:
        groups = {}
        for (name, group), by_time in sorted(seen.items()):
            if name != ruleset:
                continue
            median = statistics.median(by_time.values())
            groups[group] = {
                "interval_s": interval_of[group],
                "evaluations": len(by_time),
                "eval_ms": round(1000 * median, 3),
                "eval_s_per_hour": round(median * 3600 / interval_of[group], 4),
            }
        out[ruleset] = {
            "eval_s_per_hour": round(sum(g["eval_s_per_hour"] for g in groups.values()), 3),
            "groups": groups,
        }
    return out


def live_end(series: int) -> int:
    """The steady history's end: far enough ahead for the live groups (LIVE_LEAD_S)."""
    ahead = time.time() + LIVE_LEAD_S + LIVE_LEAD_PER_SERIES_S * series
    return int(-(-ahead // 300) * 300)


def measure_size(
    root: Path,
    series: int,
    rules: dict[str, list[Any]],
    files: dict[str, Path],
    repeat: int,
    cost_only: bool = False,
) -> dict[str, Any]:
    end = live_end(series)
    load = traffic.make("steady", series, end - HISTORY_S, end)
    data, build = dataset(root, load, rules)
    print(f"  {series:>5} series: history built {build}", flush=True)
    with server(data) as prom:
        at = grid_time(prom, end)
        history_s = at - load.start
        seen = observe(prom, rules, at, repeat)
        costs = {k: cost(rs, seen[k], history_s) for k, rs in rules.items()}
        parts = {} if cost_only else anatomy(prom, at, rules["promspec"])
        acc = accuracy(prom, load, rules, times_before(at, ACCURACY_TIMES, ACCURACY_STEP_S))
    groups = None
    if not cost_only:
        print(f"  {series:>5} series: live groups until {LIVE_S} s after the history", flush=True)
        groups = live(load, data, files)
    shutil.rmtree(data)
    a, b, f = (costs[k]["samples_per_hour"] for k in ("promspec", "usual", "floor"))
    a30, b30 = (costs[k]["samples_per_hour_30d_history"] for k in ("promspec", "usual"))
    out = {
        "build": build,
        "evaluated_at": at,
        "history_s": history_s,
        "cost": costs,
        "promspec_over_usual": round(a / b, 6),
        "promspec_over_floor": round(a / f, 3),
        "promspec_over_usual_30d_history": round(a30 / b30, 6),
        "promspec_over_floor_30d_history": round(a30 / f, 3),
        "eval_time_promspec_over_usual": round(
            costs["promspec"]["eval_s_per_hour"] / costs["usual"]["eval_s_per_hour"], 4
        ),
        "eval_time_promspec_over_floor": round(
            costs["promspec"]["eval_s_per_hour"] / costs["floor"]["eval_s_per_hour"], 3
        ),
        "raw_rule_parts": parts,
        "accuracy_steady": acc,
    }
    if groups is not None:
        out["live"] = groups
        out["live_eval_promspec_over_usual"] = round(
            groups["promspec"]["eval_s_per_hour"] / groups["usual"]["eval_s_per_hour"], 4
        )
        out["live_eval_promspec_over_floor"] = round(
            groups["promspec"]["eval_s_per_hour"] / groups["floor"]["eval_s_per_hour"], 3
        )
    return out


def measure_bursty(
    root: Path, series: int, end: int, rules: dict[str, list[Any]]
) -> dict[str, Any]:
    """Accuracy on bursty traffic, for each hourly pattern; `accuracy` is the worst case."""
    runs = []
    for seed in BURSTY_SEEDS:
        load = traffic.make("bursty", series, end - BURSTY_HISTORY_S, end, seed=seed)
        data, build = dataset(root, load, rules)
        print(f"  bursty {series} series, pattern {seed}: history built {build}", flush=True)
        with server(data) as prom:
            times = times_before(grid_time(prom, end), BURSTY_TIMES, BURSTY_STEP_S)
            runs.append(
                {"seed": seed, "build": build, "accuracy": accuracy(prom, load, rules, times)}
            )
        shutil.rmtree(data)

    def worst_of(part: Any) -> dict[str, Any]:
        out = {w: max(part(r)[w] for r in runs) for w in (*WINDOWS, "max")}
        out["median"] = {w: max(part(r)["median"][w] for r in runs) for w in WINDOWS}
        return out

    worst: dict[str, Any] = {}
    for ruleset in ("promspec", "usual"):
        worst[ruleset] = worst_of(lambda r: r["accuracy"][ruleset])  # noqa: B023
        worst[ruleset]["events"] = worst_of(lambda r: r["accuracy"][ruleset]["events"])  # noqa: B023
    return {"series": series, "accuracy": worst, "patterns": runs}


def summary(results: dict[str, Any]) -> dict[str, Any]:
    sizes = results["sizes"]
    top = sizes[max(sizes, key=int)]
    accuracy = {"steady": top["accuracy_steady"]["promspec"]["max"]}
    if results.get("bursty"):
        accuracy["bursty"] = results["bursty"]["accuracy"]["promspec"]["max"]
    time_usual, time_floor = (
        top["eval_time_promspec_over_usual"],
        top["eval_time_promspec_over_floor"],
    )
    live_usual, live_floor = (
        top.get("live_eval_promspec_over_usual"),
        top.get("live_eval_promspec_over_floor"),
    )
    met = {
        "at_most_1_500_of_usual": top["promspec_over_usual"] <= TARGETS["promspec_over_usual"],
        "at_most_1_5x_floor": top["promspec_over_floor"] <= TARGETS["promspec_over_floor"],
        "page_tiers_every_30s": results["page_tiers_every_30s"],
        "within_1pct_of_exact": all(e <= TARGETS["accuracy"] for e in accuracy.values()),
        "eval_time_at_most_1_500_of_usual": time_usual <= TARGETS["promspec_over_usual"],
        "eval_time_at_most_1_5x_floor": time_floor <= TARGETS["promspec_over_floor"],
    }
    if live_usual is not None and live_floor is not None:  # not measured with --cost
        met["live_eval_at_most_1_500_of_usual"] = live_usual <= TARGETS["promspec_over_usual"]
        met["live_eval_at_most_1_5x_floor"] = live_floor <= TARGETS["promspec_over_floor"]
    return {
        "at_series": int(max(sizes, key=int)),
        "promspec_over_usual": top["promspec_over_usual"],
        "promspec_over_floor": top["promspec_over_floor"],
        "eval_time_promspec_over_usual": time_usual,
        "eval_time_promspec_over_floor": time_floor,
        "live_eval_promspec_over_usual": live_usual,
        "live_eval_promspec_over_floor": live_floor,
        "promspec_max_relative_error": accuracy,
        # The samples are the targets' measure (machine-independent); evaluation time is
        # measured by the same rule and reported beside them, met or not.
        "met": met,
    }


def report(results: dict[str, Any]) -> None:
    print("\nsamples touched per hour of rule evaluation (query API, stats=all)")
    head = ("series", "promspec", "usual", "floor", "a/b", "a/floor", "a/floor@30d")
    print(" ".join(f"{h:>13}" for h in head))
    for n, s in results["sizes"].items():
        c = s["cost"]
        row = [c[k]["samples_per_hour"] for k in ("promspec", "usual", "floor")]
        print(
            f"{n:>13} " + " ".join(f"{v:13,d}" for v in row) + f" {s['promspec_over_usual']:13.5f}"
            f" {s['promspec_over_floor']:13.2f} {s['promspec_over_floor_30d_history']:13.2f}"
        )

    def per_hour(n: str, by_set: dict[str, Any]) -> str:
        sets = ("promspec", "usual", "floor")
        return f"{n:>13} " + " ".join(f"{k} {by_set[k]['eval_s_per_hour']:9.3f}" for k in sets)

    print("\nquery-engine evaluation seconds per hour (median of repeats)")
    for n, s in results["sizes"].items():
        print(per_hour(n, s["cost"]))
    print("\nlive groups: evaluationTime seconds per hour (/api/v1/rules, median per group)")
    for n, s in results["sizes"].items():
        if "live" not in s:
            print(f"{n:>13} not measured (--cost)")
            continue
        live = s["live"]
        late = f"{live['late_s']} s after" if live["late_s"] else "before"
        print(per_hour(n, live) + f"  (server ready {late} the history's end)")
        for k in ("promspec", "usual", "floor"):
            for name, g in live[k]["groups"].items():
                print(
                    f"{'':>15}{name}: {g['eval_ms']:.2f} ms x {g['evaluations']} evaluations,"
                    f" every {g['interval_s']:g} s"
                )
    largest = results["sizes"][max(results["sizes"], key=int)]
    print("\nwhere the 5m raw rule's time goes at the largest size (each part alone, ms):")
    for name, part in largest["raw_rule_parts"].items():
        print(f"  {part['eval_ms']:8.2f}  {name}")
    top = largest["cost"]["promspec"]["rules"][:5]
    print("\npromspec's costliest rules at the largest size (samples/hour):")
    for c in top:
        print(f"  {c['samples_per_hour']:12,d}  {c['rule']}  ({c['group']}, {c['interval_s']}s)")
    print(
        "\nrelative error against the exact ratio of the scraped counters, and of the events"
        " ('events'), per window (max; bursty also median)"
    )
    print(f"{'':>33}" + "".join(f"{w:>10}" for w in (*WINDOWS, "max")))
    runs = [(f"steady {n}", s["accuracy_steady"]) for n, s in results["sizes"].items()]
    if results.get("bursty"):
        runs.append((f"bursty {results['bursty']['series']}", results["bursty"]["accuracy"]))
    for label, acc in runs:
        for ruleset in ("promspec", "usual"):
            for what, a in (("", acc[ruleset]), (" events", acc[ruleset]["events"])):
                cells = "".join(f"{a[w]:10.4%}" for w in (*WINDOWS, "max"))
                print(f"{label + ' ' + ruleset + what:>33}{cells}")
                if label.startswith("bursty"):
                    cells = "".join(f"{a['median'][w]:10.4%}" for w in WINDOWS)
                    print(f"{label + ' ' + ruleset + what + ' median':>33}{cells}")
    print(f"\nsummary: {results['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, FULL_SIZES)))
    parser.add_argument("--repeat", type=int, default=5, help="timed queries per rule")
    parser.add_argument("--quick", action="store_true", help="--sizes 10,100 --repeat 1")
    parser.add_argument(
        "--cost",
        action="store_true",
        help="samples, query time and steady accuracy only (no live groups, anatomy, bursty)",
    )
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so Prometheus is stopped and temporary data removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [10, 100] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else args.repeat
    # The bursty histories end on a 5-minute boundary in the recent past; the steady ones
    # a few minutes ahead, for the live groups (`live_end`).
    end = int(time.time()) // 300 * 300 - 300
    results: dict[str, Any] = {"machine": machine(), "method": method(), "sizes": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="promspec-bench-eval-") as tmp:
        root = Path(tmp)
        rules, files = rulesets.all_rules(root)
        results["page_tiers_every_30s"] = page_tiers_every_30s(rules["promspec"])
        for n in sizes:
            results["sizes"][str(n)] = measure_size(root, n, rules, files, repeat, args.cost)
        if not args.cost:
            bursty = BURSTY_SIZE if BURSTY_SIZE in sizes else min(sizes)
            results["bursty"] = measure_bursty(root, bursty, end, rules)
    results["summary"] = summary(results)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["wall_s"] = round(time.perf_counter() - started, 1)
    full = sizes == FULL_SIZES and not args.quick
    path = None
    if full:  # a --cost run keeps its own file: it lacks the live and bursty figures
        path = save("eval-cost" if args.cost else "eval", results)
    report(results)
    print(f"results: {path}" if path else "results not saved (partial run)")


def method() -> dict[str, Any]:
    return {
        "scrape_interval_s": traffic.SCRAPE_S,
        "history_s": HISTORY_S,
        "accuracy_timestamps": ACCURACY_TIMES,
        "accuracy_step_s": ACCURACY_STEP_S,
        "bursty_history_s": BURSTY_HISTORY_S,
        "bursty_timestamps": BURSTY_TIMES,
        "bursty_step_s": BURSTY_STEP_S,
        "bursty_patterns": list(BURSTY_SEEDS),
        "series_layout": "half code=200, half code=500, one pair per instance",
        "windows": list(WINDOWS),
        "targets": TARGETS,
    }


if __name__ == "__main__":
    main()
