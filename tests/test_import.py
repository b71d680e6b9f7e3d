"""`promspec import sloth|openslo`: exact specs out, exact notes on what was left behind,
and the result compiles and passes promtool."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli

from generator import pipeline
from generator.importers import common as imports
from generator.units import parse_duration

IMPORT = ROOT / "tests" / "fixtures" / "import"
CASES = [("sloth", "sloth-payments"), ("openslo", "openslo-checkout")]
DEFAULTS = (
    "version: promspec/v1\nkind: defaults\nteam: sre\n"
    "runbook_base_url: https://runbooks.example.com\n"
)


@pytest.mark.parametrize(("tool", "name"), CASES)
def test_import_produces_the_exact_spec_and_notes(tool: str, name: str) -> None:
    result = run_cli("import", tool, f"tests/fixtures/import/{name}.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (IMPORT / f"{name}.expected.yaml").read_text()
    assert result.stderr == (IMPORT / f"{name}.notes.txt").read_text()


@pytest.mark.parametrize(("tool", "name"), CASES)
def test_imported_spec_compiles_with_promtool(tool: str, name: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    result = run_cli("import", tool, str(IMPORT / f"{name}.yaml"), "--out", str(specs / "x.yaml"))
    assert result.returncode == 0, result.stderr
    notes = (IMPORT / f"{name}.notes.txt").read_text().splitlines()[:-1]
    assert result.stdout == (
        f"promspec: 1 services ({len(_slos(IMPORT / f'{name}.expected.yaml'))} SLOs) "
        f"imported from tests/fixtures/import/{name}.yaml into {specs / 'x.yaml'}, with "
        f"{len(notes)} notes on what differs (above; --strict makes them errors)\n"
    )
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    compiled = pipeline.compile_specs([specs])
    assert compiled.promtool_checked
    assert compiled.services


def test_sloth_notes_name_what_was_dropped() -> None:
    notes = (IMPORT / "sloth-payments.notes.txt").read_text()
    assert "slos[2].sli: SLO 'latency-ratio' skipped: a raw error_ratio_query" in notes
    assert "slos[0].alerting: alerting labels and annotations not carried over" in notes
    assert (
        "slos[0].alerting.name: Sloth's page and ticket alerts PaymentsHighErrorRate become "
        "PaymentsApiRequestsAvailabilityErrorBudgetBurn: one alert per burn tier" in notes
    )


@pytest.mark.parametrize(
    ("query", "selector", "group_by"),
    [
        (
            'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
            'http_requests_total{code=~"5.."}',
            (),
        ),
        ("rate(x_total[{{ .window }}])", "x_total", ()),
        (
            "sum by (route, code) (increase(x_total{a!='b'}[{{.window}}]))",
            'x_total{a!="b"}',
            ("route", "code"),
        ),
        ("(sum((rate(x_total[1m]))))", "x_total", ()),
        ("x_total{job='api'}", 'x_total{job="api"}', ()),
    ],
)
def test_counter_queries_reduce_to_selectors(
    query: str, selector: str, group_by: tuple[str, ...]
) -> None:
    reduced = imports.reduce_counter_query(query, r"\{\{\s*\.window\s*\}\}")
    assert reduced == imports.Reduced(selector, group_by)


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("avg(rate(x[5m]))", "'avg' is not a sum of counter rates"),
        ("sum without (a) (rate(x[5m]))", "'sum without' keeps labels"),
        ("sum(irate(x[5m]))", "'irate(...)' is not rate() or increase()"),
        ("sum(rate(x[5m])) / 2", "it is not a plain rate() of one counter"),
        ("rate(x[5m] offset 1h)", "offset and '@' modifiers"),
        ("sum(rate(x[5m]", "invalid PromQL"),
    ],
)
def test_other_queries_are_not_carried(query: str, why: str) -> None:
    with pytest.raises(imports.NotCarried, match=None) as info:
        imports.reduce_counter_query(query)
    assert why in str(info.value)


def test_nothing_importable_exits_1(tmp_path: Path) -> None:
    source = tmp_path / "raw.yaml"
    source.write_text(
        "version: prometheus/v1\nservice: a\nslos:\n  - name: x\n    objective: 99\n"
        "    sli:\n      raw:\n        error_ratio_query: foo\n"
    )
    result = run_cli("import", "sloth", str(source))
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        result.stderr.splitlines()[-1]
        == f"promspec: nothing in {source} could be imported as Sloth prometheus/v1"
    )


# -- sources their own tool would refuse ---------------------------------------------------


def _malformed(tool: str, name: str, edits: dict[str, str], tmp_path: Path) -> Path:
    text = (IMPORT / f"{name}.yaml").read_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new, 1)
    source = tmp_path / f"{name}.yaml"
    source.write_text(text)
    return source


@pytest.mark.parametrize(
    ("tool", "name", "edits", "errors"),
    [
        (
            "sloth",
            "sloth-payments",
            {
                "objective: 99.9": 'objective: "99.9%"',
                'env: "prod"': "env: [prod]",
                "disable: true": "disable: yes please",
            },
            [
                "6:8: labels.env: a label value is a string, e.g. prod (got a list)",
                "9:16: slos[0].objective: Sloth's objective is a percentage between 0 and 100 "
                '(exclusive), e.g. 99.9 (got "99.9%")',
                "35:18: slos[1].alerting.page_alert.disable: must be true or false, not the "
                'string "yes please"',
            ],
        ),
        (
            "sloth",
            "sloth-payments",
            {"    sli:\n      events:": "    sli:\n      events: []\n      x:"},
            ["12:15: slos[0].sli.events: must be a mapping (key: value lines), not a list"],
        ),
        (
            "openslo",
            "openslo-checkout",
            {"target: 0.995": "target: 99.5", "duration: 7d": "duration: 7"},
            [
                "43:15: spec.objectives[0].target: target is a ratio between 0 and 1 "
                "(exclusive), e.g. 0.999 (got 99.5)",
                "101:17: spec.timeWindow[0].duration: must be a string, not the number 7",
            ],
        ),
        (
            "openslo",
            "openslo-checkout",
            {"  metadata:\n      name: search-errors": "  metadata: search-errors"},
            ["52:15: spec.indicator.metadata: must be a mapping (key: value lines), not the "
             'string "search-errors"'],
        ),
    ],
)  # fmt: skip
def test_a_source_of_the_wrong_types_is_an_error_and_nothing_is_imported(
    tool: str, name: str, edits: dict[str, str], errors: list[str], tmp_path: Path
) -> None:
    source = _malformed(tool, name, edits, tmp_path)
    out = tmp_path / "x.yaml"
    result = run_cli("import", tool, str(source), "--out", str(out))
    assert result.returncode == 1
    assert result.stdout == ""
    noun = "problem" if len(errors) == 1 else "problems"
    assert result.stderr.splitlines() == [
        *(f"error: {source}:{error}" for error in errors),
        f"promspec: {len(errors)} {noun}; nothing was written",
    ]
    assert not out.exists()


@pytest.mark.parametrize("name", ["import-sloth.schema.json", "import-openslo.schema.json"])
def test_import_schemas_hold_against_their_metaschema(name: str) -> None:
    import jsonschema

    schema = json.loads((ROOT / "generator" / "spec" / "schema" / name).read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)


def _slos(path: Path) -> list[dict[str, object]]:
    return [slo for doc in yaml.safe_load_all(path.read_text()) for slo in doc.get("slos", [])]


# -- the shapes of Sloth's own examples (tests/fixtures/import/sloth/, typed after them) ----

SLOTH = Path("tests/fixtures/import/sloth")  # as the CLI prints it (run from ROOT)
SHAPES: list[tuple[str, tuple[str, ...], int | str]] = [
    # file, --windows files, SLOs imported or the reason every SLO is refused
    ("getting-started.yml", (), 1),
    ("getting-started.yml", ("windows/7d.yaml",), 1),
    ("k8s-getting-started.yml", (), 1),
    ("kubernetes-apiserver.yml", (), 2),
    ("no-alerts.yml", (), 1),
    ("multifile.yml", (), 2),
    ("slo-plugin-k8s-getting-started.yml", (), 1),
    ("contrib-denominator-corrected.yaml", (), 1),
    ("custom_rule_group_interval.yml", (), 1),
    (
        "home-wifi.yml",
        (),
        "skipped: error_query cannot become a selector: it is not a plain rate() of one counter",
    ),
    (
        "k8s-home-wifi.yml",
        (),
        "skipped: errorQuery cannot become a selector: it is not a plain rate() of one counter",
    ),
    ("raw-home-wifi.yml", (), "skipped: a raw error_ratio_query cannot be carried over"),
    ("plugin-getting-started.yml", (), "skipped: a plugin cannot be carried over"),
    (
        "getting-started.yml",
        ("windows/custom-30d.yaml",),
        "page.quick cannot be carried over: shortWindow 2m is below promspec's 5m base window",
    ),
]


@pytest.mark.parametrize(("name", "windows", "outcome"), SHAPES)
def test_every_sloth_example_shape_imports_and_compiles_or_is_refused_with_a_reason(
    name: str, windows: tuple[str, ...], outcome: int | str, tmp_path: Path
) -> None:
    specs = tmp_path / "specs"
    out = specs / "imported.yaml"
    args = [arg for w in windows for arg in ("--windows", str(SLOTH / w))]
    result = run_cli("import", "sloth", str(SLOTH / name), "--out", str(out), *args)
    notes = result.stderr.splitlines()
    if isinstance(outcome, str):
        assert result.returncode == 1, result.stderr
        assert not out.exists()
        assert notes[-1].startswith(f"promspec: nothing in {SLOTH / name} could be imported")
        assert any(outcome in line for line in notes), result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert all(line.startswith("note: ") for line in notes), result.stderr
    assert len(_slos(out)) == outcome
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    compiled = pipeline.compile_specs([specs])
    assert compiled.promtool_checked
    rules = b"".join(v for p, v in compiled.files.items() if p.startswith("prometheus/")).decode()
    for series in ("slo:current_burn_rate:ratio", "sloth_slo_info", "sloth_id:"):
        assert series in rules


def test_sloth_crd_reads_camel_case_and_disable() -> None:
    result = run_cli("import", "sloth", str(SLOTH / "k8s-getting-started.yml"))
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(result.stdout)
    assert spec["slos"][0]["indicator"] == {
        "ratio": {
            "errors": 'http_request_duration_seconds_count{job="shop",code=~"(5..|429)"}',
            "total": 'http_request_duration_seconds_count{job="shop"}',
        }
    }
    assert spec["slos"][0]["alerting"] == {"ticket_fast": False, "ticket_slow": False}


def test_sloth_latency_and_windows_map_to_promspec() -> None:
    result = run_cli("import", "sloth", str(SLOTH / "kubernetes-apiserver.yml"))
    latency = yaml.safe_load(result.stdout)["slos"][1]
    assert latency["indicator"] == {
        "latency": {
            "histogram": 'apiserver_request_duration_seconds{verb!="WATCH"}',
            "threshold": 0.4,
            "buckets": [0.4],
        }
    }
    assert "its buckets list only 0.4" in result.stderr
    result = run_cli(
        "import", "sloth", str(SLOTH / "getting-started.yml"),
        "--windows", str(SLOTH / "windows" / "7d.yaml"),
    )  # fmt: skip
    slo = yaml.safe_load(result.stdout)["slos"][0]
    assert slo["period"] == "7d"
    assert slo["alerting"]["ticket_slow"] == {
        "budget_percent": 42, "long_window": "3d", "short_window": "6h", "for": "10m"
    }  # fmt: skip


def test_plugins_are_noted_and_strict_turns_notes_into_errors(tmp_path: Path) -> None:
    source = SLOTH / "slo-plugin-k8s-getting-started.yml"
    result = run_cli("import", "sloth", str(source))
    assert result.returncode == 0
    assert (
        f"note: {source}:12:5: spec.sloPlugins: plugins not carried over "
        "(sloth.dev/core/debug/v1): promspec has no plugins" in result.stderr
    )
    assert f"note: {source}:20:9: spec.slos[0].plugins: plugins not carried over" in result.stderr
    count = sum(line.startswith("note: ") for line in result.stderr.splitlines())
    assert result.stderr.splitlines()[-1].endswith(
        f"with {count} notes on what differs (above; --strict makes them errors)"
    )
    out = tmp_path / "x.yaml"
    strict = run_cli("import", "sloth", str(source), "--strict", "--out", str(out))
    assert strict.returncode == 1
    assert not out.exists()
    assert strict.stdout == ""
    lines = strict.stderr.splitlines()
    assert lines[:-1] == [line.replace("note: ", "error: ", 1) for line in
                          result.stderr.splitlines()[:-1]]  # fmt: skip
    assert lines[-1] == (
        f"promspec: {count} differences from {source} (--strict); nothing was written"
    )


# -- round trip: the imported spec's alerts fire where Sloth's own rules fire --------------

# Sloth's default windows (30d): tier -> (budget percent, long window, short window).
SLOTH_WINDOWS = {
    "page_fast": (2, "1h", "5m"),
    "page_slow": (5, "6h", "30m"),
    "ticket_fast": (10, "1d", "2h"),
    "ticket_slow": (10, "3d", "6h"),
}
STEP = 300  # seconds between samples and evaluations
# Long enough for every promspec `for` (at most 3h) to pass. Under a steady burn from the
# start, every window's error ratio is the burn's from the first minutes on, in both rule
# sets (a window not yet full lacks errors and events alike), so 4h decide every tier.
HOURS = 4
PER_STEP = 100_000  # events per step


def _sloth_windows(windows: tuple[str, ...]) -> tuple[float, dict[str, tuple[float, str, str]]]:
    if not windows:
        return 30 * 86400, SLOTH_WINDOWS
    spec = yaml.safe_load((ROOT / SLOTH / windows[0]).read_text())["spec"]
    tiers = {}
    for severity, speed, tier in (("page", "quick", "page_fast"), ("page", "slow", "page_slow"),
                                  ("ticket", "quick", "ticket_fast"),
                                  ("ticket", "slow", "ticket_slow")):  # fmt: skip
        w = spec[severity][speed]
        tiers[tier] = (w["errorBudgetPercent"], w["longWindow"], w["shortWindow"])
    return parse_duration(spec["sloPeriod"]), tiers


def _sloth_rules(source: dict[str, object], slo: int, windows: tuple[str, ...]) -> tuple[
    str, dict[str, float], dict[str, str]
]:  # fmt: skip
    """Sloth's rules for one SLO, written from its documented formulas: the error ratio of
    each window from the raw counters, and a page and a ticket alert each ORing two pairs
    of windows; the burn factor of each enabled tier, and the severity of each tier."""
    spec = source.get("spec", source)
    raw = spec["slos"][slo]  # type: ignore[index]
    events, alerting = raw["sli"]["events"], raw.get("alerting") or {}
    errors = events.get("error_query") or events["errorQuery"]
    total = events.get("total_query") or events["totalQuery"]
    budget = round(1 - raw["objective"] / 100, 12)
    period, tiers = _sloth_windows(windows)
    rules: list[dict[str, object]] = []
    for window in sorted({w for _, long, short in tiers.values() for w in (long, short)},
                         key=parse_duration):  # fmt: skip
        at = re.sub(r"\{\{\s*\.window\s*\}\}", window, f"({errors}) / ({total})")
        rules.append({"record": f"slo:sli_error:ratio_rate{window}", "expr": at})
    factors, severities = {}, {}
    for severity, pair in (("page", ("page_fast", "page_slow")),
                           ("ticket", ("ticket_fast", "ticket_slow"))):  # fmt: skip
        alert = alerting.get(f"{severity}_alert") or alerting.get(f"{severity}Alert") or {}
        if alert.get("disable"):
            continue
        terms = []
        for tier in pair:
            percent, long, short = tiers[tier]
            factors[tier] = percent / 100 * period / parse_duration(long)
            severities[tier] = severity
            level = f"{factors[tier]!r} * {budget!r}"
            terms.append(
                f"(slo:sli_error:ratio_rate{short} > {level}"
                f" and slo:sli_error:ratio_rate{long} > {level})"
            )
        rules.append(
            {"alert": "SlothAlert", "expr": " or ".join(terms),
             "labels": {"sloth_severity": severity}}
        )  # fmt: skip
    return yaml.safe_dump({"groups": [{"name": "sloth", "rules": rules}]}), factors, severities


def _input_series(
    kind: str, error_ratio: float, steps: int, burn_steps: int
) -> list[dict[str, str]]:
    """PER_STEP events a step; `error_ratio` of them fail during the first `burn_steps`."""
    bad, good = PER_STEP * error_ratio, PER_STEP * (1 - error_ratio)

    def counter(during: float, after: float) -> str:
        if burn_steps >= steps:
            return f"0+{during!r}x{steps}"
        rest = steps - burn_steps - 1
        return f"0+{during!r}x{burn_steps} {during * burn_steps + after!r}+{after!r}x{rest}"

    if kind == "latency":
        metric = "apiserver_request_duration_seconds"
        return [
            {"series": f'{metric}_count{{verb="GET"}}', "values": f"0+{PER_STEP}x{steps}"},
            {"series": f'{metric}_bucket{{verb="GET",le="0.4"}}',
             "values": counter(good, PER_STEP)},
        ]  # fmt: skip
    metric = "http_request_duration_seconds_count"
    return [
        {"series": f'{metric}{{job="shop",code="200"}}', "values": counter(good, PER_STEP)},
        {"series": f'{metric}{{job="shop",code="500"}}', "values": counter(bad, 0)},
    ]


def _ratio_over(window: float, t: float, stop: float) -> float:
    """Share of a window's events (or of the history so far) that fell in the burn."""
    start = max(0.0, t - window)
    return max(0.0, min(t, stop) - start) / (t - start)


ROUND_TRIPS = [
    # Sloth file, --windows, SLO index, input series kind
    ("getting-started.yml", (), 0, "shop"),
    ("getting-started.yml", ("windows/7d.yaml",), 0, "shop"),
    ("k8s-getting-started.yml", (), 0, "shop"),
    ("kubernetes-apiserver.yml", (), 1, "latency"),
]


@pytest.mark.parametrize(("name", "windows", "slo", "kind"), ROUND_TRIPS)
def test_imported_alerts_fire_at_sloths_burn_rates_and_windows(
    name: str, windows: tuple[str, ...], slo: int, kind: str, tmp_path: Path
) -> None:
    source = yaml.safe_load((ROOT / SLOTH / name).read_text())
    sloth_rules, factors, severities = _sloth_rules(source, slo, windows)
    tiers = _sloth_windows(windows)[1]
    specs = tmp_path / "specs"
    args = [arg for w in windows for arg in ("--windows", str(SLOTH / w))]
    result = run_cli("import", "sloth", str(SLOTH / name), "--out", str(specs / "x.yaml"), *args)
    assert result.returncode == 0, result.stderr
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    compiled = pipeline.compile_specs([specs])
    service = yaml.safe_load((specs / "x.yaml").read_text())["service"]
    imported = yaml.safe_load((specs / "x.yaml").read_text())["slos"][slo]
    (tmp_path / "promspec.rules.yml").write_bytes(compiled.files[f"prometheus/{service}.rules.yml"])
    (tmp_path / "sloth.rules.yml").write_text(sloth_rules)
    budget = round(1 - imported["objective"] / 100, 12)
    ours = f"{''.join(w.capitalize() for w in re.split('[-_]', service))}"
    alert = ours + "".join(w.capitalize() for w in re.split("[-_]", imported["name"]))
    cases, sloth_cases = [], []

    def case(burn: float, stop: float, steps: int, at: float, margin: float) -> None:
        """Both rule sets over the same series; the tiers that must fire at `at` from the
        burn's error ratio over each tier's windows, each at least `margin` off its factor."""
        firing = []
        for tier, factor in factors.items():
            _, long, short = tiers[tier]
            ratios = [burn * _ratio_over(parse_duration(w), at, stop) for w in (long, short)]
            assert all(abs(r - factor) > margin * factor for r in ratios), (tier, at, ratios)
            if all(r > factor for r in ratios):
                firing.append(tier)
        series = _input_series(kind, burn * budget, steps, int(stop // STEP))
        for label, expr, samples in (
            ("burn_tier", f'ALERTS{{alertstate="firing",alertname="{alert}ErrorBudgetBurn"}}',
             sorted(firing)),
            ("sloth_severity", 'ALERTS{alertstate="firing"}',
             sorted({severities[t] for t in firing})),
        ):  # fmt: skip
            (cases if label == "burn_tier" else sloth_cases).append({
                "interval": f"{STEP}s", "input_series": series,
                "promql_expr_test": [{
                    "expr": f"count by ({label}) ({expr})", "eval_time": f"{int(at)}s",
                    "exp_samples": [{"labels": f'{{{label}="{v}"}}', "value": 1} for v in samples],
                }],
            })  # fmt: skip

    steps = HOURS * 3600 // STEP
    for factor in sorted(set(factors.values())):
        for burn in (factor * 1.05, factor * 0.95):  # steady, just above and below
            case(burn, steps * STEP, steps, (steps - 1) * STEP, 0.04)
    # A fast burn for 4h, then none: each tier resets when its short window has seen
    # enough good events, the page tiers within minutes, the ticket tiers hours later.
    stop = 4 * 3600
    for delay in (10 * 60, 40 * 60, 150 * 60):
        at = stop + delay
        case(max(factors.values()) * 1.05, stop, at // STEP + 1, at, 0.1)
    for label, rules, tests in (("promspec", "promspec.rules.yml", cases),
                                ("sloth", "sloth.rules.yml", sloth_cases)):  # fmt: skip
        (tmp_path / f"{label}.test.yml").write_text(
            yaml.safe_dump({"rule_files": [rules], "evaluation_interval": f"{STEP}s",
                            "tests": tests})
        )  # fmt: skip
    runs = [
        subprocess.Popen(["promtool", "test", "rules", f"{label}.test.yml"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for label in ("promspec", "sloth")
    ]  # fmt: skip
    for run in runs:
        output, _ = run.communicate(timeout=120)
        assert run.returncode == 0, output
    # Every factor was crossed both ways, and the burn stopped three times.
    assert len(cases) == 2 * len(set(factors.values())) + 3 >= 7


# -- OpenSLO: list files, empty fields, exit codes, several values, thresholdMetric ---------

OPENSLO = Path("tests/fixtures/import/openslo")  # as the CLI prints it (run from ROOT)


def test_openslo_list_file_with_empty_fields_imports_and_compiles(tmp_path: Path) -> None:
    source = OPENSLO / "list.yaml"
    specs = tmp_path / "specs"
    result = run_cli("import", "openslo", str(source), "--out", str(specs / "x.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"note: {source}:9:13: metadata.labels.team: SLO 'search-availability': label team "
        "has several values (search, platform); not carried over: promspec routes each "
        "service to one team: set team",
        f"note: {source}:57:9: spec.objectives[0]: SLO 'search-latency' becomes "
        "indicator.latency: 99% of requests within 0.5s (the quantile and value), not the "
        "target 0.95 of good data points; buckets list only 0.5: add the histogram's other "
        "boundaries",
        f"note: {source}:74:22: spec.indicator.spec.thresholdMetric.metricSource.spec.query: "
        "SLO 'search-queue-depth' skipped: a thresholdMetric is carried over only as a "
        "histogram_quantile of a histogram's buckets (indicator.latency), and it is not "
        "histogram_quantile(...) over a histogram's buckets",
    ]
    spec = yaml.safe_load((specs / "x.yaml").read_text())
    assert spec["team"] == "search"
    assert [s["name"] for s in spec["slos"]] == ["availability", "latency"]
    assert spec["slos"][1]["objective"] == 99
    assert spec["slos"][1]["indicator"] == {
        "latency": {
            "histogram": 'search_duration_seconds{route!="/health"}',
            "threshold": 0.5,
            "buckets": [0.5],
        }
    }
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    assert pipeline.compile_specs([specs]).promtool_checked


def test_openslo_with_every_slo_skipped_exits_1_like_sloth(tmp_path: Path) -> None:
    source = OPENSLO / "all-skipped.yaml"
    out = tmp_path / "x.yaml"
    result = run_cli("import", "openslo", str(source), "--out", str(out))
    assert result.returncode == 1
    assert result.stdout == ""
    assert not out.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert "SLO 'billing-raw' skipped: a raw ratio cannot be carried over" in lines[0]
    assert "SLO 'billing-datadog' skipped: metric source 'Datadog' is not Prometheus" in lines[1]
    assert lines[2] == f"promspec: nothing in {source} could be imported as OpenSLO v1"


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("max(q)", "it is not histogram_quantile(...)"),
        ("histogram_quantile(0.99, sum(rate(x_bucket[5m])))", "a _bucket series summed by le"),
        ("histogram_quantile(2, sum by (le) (rate(x_bucket[5m])))", "not a number between 0 and 1"),
        ("histogram_quantile(0.9, sum by (le) (rate(x_count[5m])))", "not taken over a _bucket"),
    ],
)  # fmt: skip
def test_quantile_queries_that_are_not_latency_slis(query: str, why: str) -> None:
    with pytest.raises(imports.NotCarried) as info:
        imports.reduce_quantile_query(query)
    assert why in str(info.value)


def test_sloth_series_leave_promspec_overview_and_alerts_alone(tmp_path: Path) -> None:
    """compat.sloth's copies carry no service/slo labels: the overview's queries still give
    one row per promspec SLO, and Sloth's series come out with Sloth's labels and values."""
    specs = tmp_path / "specs"
    source = IMPORT / "sloth-payments.yaml"
    assert run_cli("import", "sloth", str(source), "--out", str(specs / "x.yaml")).returncode == 0
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    compiled = pipeline.compile_specs([specs])
    (tmp_path / "rules.yml").write_bytes(compiled.files["prometheus/payments-api.rules.yml"])
    overview = json.loads(compiled.files["grafana/overview.json"])
    queries = [t["expr"] for t in overview["panels"][0]["targets"]]
    ratio = 0.002  # 2x the 99.9% SLO's budget
    series = [
        {"series": 'http_requests_total{job="payments-api",code="200"}',
         "values": f"0+{600 * (1 - ratio)!r}x150"},
        {"series": 'http_requests_total{job="payments-api",code="500"}',
         "values": f"0+{600 * ratio!r}x150"},
        {"series": 'webhook_deliveries_total{provider="a"}', "values": "0+60x150"},
        {"series": 'webhook_deliveries_total{provider="a",result="failed"}', "values": "0x150"},
    ]  # fmt: skip
    sloth = '{sloth_id="payments-api-requests-availability",sloth_service="payments-api",'
    sloth += 'sloth_slo="requests-availability"'
    tests = [
        {"expr": f"count({q})", "eval_time": "2h", "exp_samples": [{"labels": "{}", "value": 2}]}
        for q in queries
    ] + [
        {"expr": f"round(1000 * slo:current_burn_rate:ratio{sloth}}})", "eval_time": "2h",
         "exp_samples": [{"labels": f"{sloth}}}", "value": 2000}]},
        {"expr": f"slo:time_period:days{sloth}}}", "eval_time": "2h",
         "exp_samples": [{"labels": f"slo:time_period:days{sloth}}}", "value": 30}]},
        {"expr": f'round(1e6 * slo:sli_error:ratio_rate1h{sloth},sloth_window="1h"}})',
         "eval_time": "2h",
         "exp_samples": [{"labels": f'{sloth},sloth_window="1h"}}', "value": 2000}]},
        {"expr": "count(sloth_slo_info)", "eval_time": "2h",
         "exp_samples": [{"labels": "{}", "value": 2}]},
    ]  # fmt: skip
    (tmp_path / "t.test.yml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [
            {"interval": "1m", "input_series": series, "promql_expr_test": tests}]})
    )  # fmt: skip
    run = subprocess.run(
        ["promtool", "test", "rules", "t.test.yml"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_windows_in_the_spec_file_or_alone(tmp_path: Path) -> None:
    windows = (ROOT / SLOTH / "windows" / "7d.yaml").read_text()
    both = tmp_path / "both.yaml"
    both.write_text(windows + "---\n" + (ROOT / SLOTH / "no-alerts.yml").read_text())
    result = run_cli("import", "sloth", str(both))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["slos"][0]["period"] == "7d"
    alone = SLOTH / "windows" / "7d.yaml"
    result = run_cli("import", "sloth", str(alone))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"note: {alone}:3:7: kind: only AlertWindows here: import the Sloth specs with "
        "--windows and this file",
        f"promspec: nothing in {alone} could be imported as Sloth prometheus/v1",
    ]


@pytest.mark.parametrize(
    ("errors", "total", "why"),
    [
        ("sum(rate(a_count[5m])) - sum(rate(b_bucket{le=\"1\"}[5m]))", "sum(rate(a_count[5m]))",
         "a_count and b_bucket are not the same histogram"),
        ("sum(rate(a_count[5m])) - sum(rate(a_bucket{le=\"+Inf\"}[5m]))", "sum(rate(a_count[5m]))",
         "not a finite bucket boundary"),
        ("sum(rate(a_count[5m])) - sum(rate(a_bucket{le=~\"0.5\"}[5m]))", "sum(rate(a_count[5m]))",
         "exactly one le=\"<seconds>\" matcher"),
        ("sum(rate(a_count{x=\"1\"}[5m])) - sum(rate(a_bucket{le=\"1\"}[5m]))",
         "sum(rate(a_count{x=\"1\"}[5m]))", "the _count and the _bucket select different series"),
        ("sum(rate(a_count[5m])) - sum(rate(a_bucket{le=\"1\"}[5m]))",
         "sum(rate(a_count{x=\"1\"}[5m]))", "total_query is not the rate of a_count"),
        ("sum(rate(a_count[5m])) / sum(rate(a_bucket{le=\"1\"}[5m]))", "sum(rate(a_count[5m]))",
         "neither one counter's rate nor a histogram's _count less a bucket"),
    ],
)  # fmt: skip
def test_latency_queries_not_carried(errors: str, total: str, why: str) -> None:
    with pytest.raises(imports.NotCarried) as info:
        imports.reduce_latency_query(errors, total)
    assert why in str(info.value)
