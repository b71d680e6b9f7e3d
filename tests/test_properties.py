"""Property-based: valid specs always compile to rules promtool accepts; mutated specs
compile or fail with one-line user errors, never a crash.

The pipeline runs in-process; every compiled rule file of a test goes to one promtool
call at the end, so a few dozen examples stay fast.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import pipeline
from generator.errors import Problem, SpecError
from generator.importers import common as imports
from generator.importers import openslo as import_openslo
from generator.importers import sloth as import_sloth
from generator.promql import fragments
from generator.spec.load import load_file

# A few dozen keep the suite fast; PROMSPEC_PROPERTY_EXAMPLES=1000 for a deeper hunt.
SETTINGS = settings(
    max_examples=int(os.environ.get("PROMSPEC_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAME = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)
LABEL = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not s.startswith("__")
)
# Any text a YAML string can hold: quotes, braces, backslashes, newlines, non-ASCII.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
LABEL_VALUE = TEXT.filter(lambda s: "{{" not in s and "}}" not in s)
DESCRIPTION = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda s: "{{" not in s and "}}" not in s
)
METRIC = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: not s.endswith(("_bucket", "_count", "_sum")) and s not in _KEYWORDS
)
_KEYWORDS = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "offset",
    "bool",
    "group",
    "topk",
    "bottomk",
    "inf",
    "nan",
    "stddev",
    "stdvar",
    "quantile",
    "count_values",
    "group_left",
    "group_right",
    "atan2",
}
RESERVED = {"service", "slo", "team", "severity", "burn_tier", "check"}


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@st.composite
def selector(draw: st.DrawFn, metric: str | None = None) -> str:
    name = metric or draw(METRIC)
    matchers = draw(st.dictionaries(LABEL.filter(lambda s: s != "le"), LABEL_VALUE, max_size=2))
    op = draw(st.sampled_from(["=", "!="]))
    body = ",".join(f"{k}{op}{quoted(v)}" for k, v in sorted(matchers.items()))
    return f"{name}{{{body}}}" if body else name


@st.composite
def slo(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ratio", "ratio_good", "latency", "gauge"]))
    if kind == "ratio":
        indicator = {"ratio": {"errors": draw(selector()), "total": draw(selector())}}
    elif kind == "ratio_good":
        indicator = {"ratio": {"good": draw(selector()), "total": draw(selector())}}
    elif kind == "latency":
        buckets = sorted(draw(st.sets(st.sampled_from([0.05, 0.1, 0.25, 0.3, 1, 2.5]), min_size=1)))
        indicator = {
            "latency": {
                "histogram": draw(selector()),
                "threshold": draw(st.sampled_from(buckets)),
                "buckets": buckets,
            }
        }
    else:
        indicator = {"gauge": {"metric": draw(selector())}}
    out: dict[str, Any] = {
        "name": name,
        "objective": draw(st.floats(99, 99.999).map(lambda f: round(f, 3))),
        "period": draw(st.sampled_from(["7d", "28d", "30d"])),
        "indicator": indicator,
    }
    if draw(st.booleans()):
        out["description"] = draw(DESCRIPTION)
    if draw(st.booleans()):
        out["group_by"] = draw(st.lists(LABEL, max_size=2, unique=True))
    alerting: dict[str, Any] = {}
    for tier in ("page_slow", "ticket_fast", "ticket_slow", "budget_low"):
        if draw(st.booleans()):
            alerting[tier] = False
    if draw(st.booleans()):
        alerting["min_traffic"] = draw(st.integers(0, 10_000))
    if draw(st.booleans()):
        alerting["no_data"] = False
    if alerting:
        out["alerting"] = alerting
    return out


@st.composite
def capacity_levels(draw: st.DrawFn) -> dict[str, Any]:
    """Headroom floors (plain, or with their own `for` and labels), none at all, and no,
    one or several exhaustion levels, a stricter severity with a shorter `within`."""
    out: dict[str, Any] = {}
    severities = draw(
        st.lists(st.sampled_from(["info", "warning", "critical"]), max_size=3, unique=True)
    )
    exhaustion = [
        {"within": f"{hours}h", "severity": severity, "for": f"{draw(st.integers(0, 30))}m"}
        for hours, severity in zip(
            (24, 6, 1), sorted(severities, key=["info", "warning", "critical"].index), strict=False
        )
    ]
    if exhaustion:
        out["exhaustion"] = (
            exhaustion if len(exhaustion) > 1 or draw(st.booleans()) else exhaustion[0]
        )
    if exhaustion and draw(st.booleans()):
        out["headroom"] = False
    elif draw(st.booleans()):
        critical = draw(st.integers(1, 40))
        out["headroom"] = {
            "warning": critical + draw(st.integers(1, 40)),
            "critical": {"percent": critical, "for": f"{draw(st.integers(0, 20))}m"},
        }
        if draw(st.booleans()):
            out["headroom"]["critical"]["labels"] = {"priority": "p1"}
    return out


@st.composite
def valid_spec(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(NAME, min_size=7, max_size=7, unique=True))
    spec: dict[str, Any] = {
        "version": "promspec/v1",
        "service": draw(NAME),
        "team": draw(NAME),
        "runbook_base_url": "https://runbooks.example.com/x",
    }
    if draw(st.booleans()):
        spec["labels"] = draw(
            st.dictionaries(LABEL.filter(lambda s: s not in RESERVED), LABEL_VALUE, max_size=2)
        )
    if draw(st.booleans()):
        spec["selector"] = draw(st.dictionaries(LABEL, LABEL_VALUE, max_size=2))
    if draw(st.booleans()):
        spec["description"] = draw(DESCRIPTION)
    spec["slos"] = [draw(slo(names.pop())) for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        warning = draw(st.integers(1, 100))
        spec["thresholds"] = [
            {
                "name": names.pop(),
                "expr": f"sum by (instance) (rate({draw(selector())}[5m]))",
                "warning": warning,
                "critical": warning + draw(st.integers(1, 100)),
                "unit": draw(st.sampled_from(["none", "percent", "seconds", "bytes"])),
                "description": draw(DESCRIPTION),
            }
        ]
    if draw(st.booleans()):
        spec["capacity"] = [
            {
                "name": names.pop(),
                "usage": draw(selector()),
                "limit": draw(st.integers(1, 10**6)),
                **draw(capacity_levels()),
            }
        ]
    if draw(st.booleans()):
        spec["freshness"] = [{"name": names.pop(), "timestamp": draw(selector()), "warning": "1h"}]
    if draw(st.booleans()):
        spec["expiry"] = [{"name": names.pop(), "timestamp": draw(selector()), "critical": "3d"}]
    if draw(st.booleans()):
        spec["absence"] = [{"name": names.pop(), "target": draw(selector("up"))}]
    return spec


def promtool_accepts(files: list[Path]) -> None:
    assert files, "no example compiled"
    result = subprocess.run(
        ["promtool", "check", "rules", *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def compile_spec(text: str, spec_dir: Path) -> pipeline.Result:
    spec = spec_dir / "spec.yaml"
    spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    return pipeline.compile_specs(
        [spec], defaults_file=FIXTURES / "_defaults.yaml", use_promtool=False
    )


def keep(result: pipeline.Result, out: Path, files: list[Path]) -> None:
    for content in result.plain.values():  # the rule files (dashboards and proofs aside)
        path = out / f"{len(files)}.rules.yml"
        path.write_bytes(content)
        files.append(path)


def assert_one_line(problems: list[Problem]) -> None:
    for problem in problems:
        line = str(problem)
        assert "\n" not in line and "Traceback" not in line, line
        assert problem.file and problem.message, line


def compile_or_reject(
    text: str, spec_dir: Path, files: list[Path], outcomes: dict[str, int]
) -> None:
    """Compile (keeping the rule files for promtool) or fail with one-line problems."""
    try:
        result = compile_spec(text, spec_dir)
    except SpecError as exc:
        assert exc.problems
        assert_one_line(exc.problems)
        outcomes["rejected"] += 1
        return
    keep(result, spec_dir, files)
    outcomes["compiled"] += 1


def test_every_valid_spec_compiles_to_rules_promtool_accepts(tmp_path: Path) -> None:
    files: list[Path] = []

    @SETTINGS
    @given(valid_spec())
    def compiles(spec: dict[str, Any]) -> None:
        text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
        keep(compile_spec(text, tmp_path), tmp_path, files)

    compiles()
    promtool_accepts(files)


# -- tuned alert policies ----------------------------------------------------------------

WINDOWS = ["30m", "1h", "2h", "6h", "12h", "1d", "3d", "7d", "28d"]
FORS = ["0s", "1m", "2m", "5m", "7m", "15m", "1h", "3h"]


@st.composite
def tuned_policy_spec(draw: st.DrawFn) -> dict[str, Any]:
    """One SLO whose burn tiers and budget alerts take numbers a team might choose; the
    proofs' scenarios are designed from them, where rounding edges and step boundaries
    hide (each case of tests/test_proofs.py's "rounding edge" tests came from here)."""
    alerting: dict[str, Any] = {}
    for tier in ("page_fast", "page_slow", "ticket_fast", "ticket_slow"):
        choice = draw(st.sampled_from(["default", "off", "tuned"]))
        if choice == "off":
            alerting[tier] = False
        elif choice == "tuned":
            tuned: dict[str, Any] = {}
            if draw(st.booleans()):
                tuned["budget_percent"] = draw(st.sampled_from([0.5, 1, 2, 2.5, 5, 10, 20, 50]))
            if draw(st.booleans()):
                tuned["long_window"] = draw(st.sampled_from(WINDOWS))
            if draw(st.booleans()):
                tuned["for"] = draw(st.sampled_from(FORS))
            if draw(st.integers(0, 3)) == 0:
                tuned["short_window"] = draw(st.sampled_from(["5m", "10m", "30m", "2h"]))
            alerting[tier] = tuned
    if draw(st.integers(0, 3)) == 0:
        alerting["min_traffic"] = draw(st.sampled_from([1, 10, 100, 1000]))
    for key in ("budget_low", "budget_exhausted"):
        if draw(st.booleans()):
            levels = [0.5, 1, 12.5, 33.3, 50, 80, 99.5, 100]
            alerting[key] = {"consumed_percent": draw(st.sampled_from(levels))}
    objective = draw(
        st.sampled_from([90, 95, 99, 99.5, 99.9, 99.95, 99.99])
        | st.floats(99, 99.99).map(lambda f: round(f, 2))
    )
    indicator = draw(
        st.sampled_from(
            [
                {"ratio": {"errors": 'x_total{code="500"}', "total": "x_total"}},
                {"gauge": {"metric": "probe_success"}},
                {
                    "latency": {
                        "histogram": "http_request_duration_seconds",
                        "threshold": "300ms",
                        "buckets": [0.1, 0.3, 1],
                    }
                },
            ]
        )
    )
    return {
        "version": "promspec/v1",
        "service": "svc",
        "team": "t",
        "runbook_base_url": "https://runbooks.example.com/x",
        "slos": [
            {
                "name": "g",
                "objective": objective,
                "period": draw(st.sampled_from(["7d", "28d", "30d"])),
                "indicator": indicator,
                "alerting": alerting,
                **({"group_by": ["route"]} if draw(st.booleans()) else {}),
            }
        ],
    }


def test_tuned_alert_policies_compile_or_fail_with_one_line_errors(tmp_path: Path) -> None:
    files: list[Path] = []
    outcomes = {"compiled": 0, "rejected": 0}

    @SETTINGS
    @given(tuned_policy_spec())
    def designs_its_proofs(spec: dict[str, Any]) -> None:
        compile_or_reject(yaml.safe_dump(spec, sort_keys=False), tmp_path, files, outcomes)

    designs_its_proofs()
    assert outcomes["compiled"] > 0
    promtool_accepts(files)


# -- mutations ---------------------------------------------------------------------------

HOSTILE_VALUES = [
    None, True, False, 0, -1, 1.5, 100, 1e308, "", " ", "99.9%", "0s", "30x", "5m",
    "{{ $value }}", 'a"} or vector(1) #', "../x", "/", "x" * 3000, "ünïcödé", "\t",
    "up{", "rate(x[5m])", "sum(", [], {}, [1, 2], {"a": 1}, {"ratio": {}},
]  # fmt: skip
HOSTILE_AT_IMPORT = copy.deepcopy(HOSTILE_VALUES)


def all_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += all_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += all_paths(value, (*path, i))
    return found


def mutate(draw: st.DrawFn, data: Any) -> None:
    """One to three random changes to `data` (a mapping or a list of documents), in place."""
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in all_paths(data) if p]
        if not paths:  # everything deleted already
            return
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "rename", "add", "duplicate"]))
        if action == "replace":
            # A copy: later mutations must not change the shared hostile values.
            parent[last] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES) | TEXT))
        elif action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(last, str):
            parent[last + draw(st.sampled_from(["s", "_", "x"]))] = parent.pop(last)
        elif action == "add" and isinstance(parent, dict):
            key = draw(st.sampled_from([*map(str, path), "extra", "for", "labels"]))
            parent[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))


def break_text(draw: st.DrawFn, text: str) -> str:
    """Now and then, break the YAML text itself."""
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["", ":", "- ", "\t", "&a ", "*a", "\x00", "]"]))
        text += text[at + draw(st.integers(0, 5)) :] if draw(st.booleans()) else ""
    return text


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    data = copy.deepcopy(BASE)
    mutate(draw, data)
    return break_text(draw, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


BASE = yaml.safe_load((FIXTURES / "checkout-api.yaml").read_text())


def test_mutated_specs_compile_or_fail_with_one_line_errors(tmp_path: Path) -> None:
    files: list[Path] = []
    outcomes = {"compiled": 0, "rejected": 0}

    @SETTINGS
    @given(mutated_spec())
    def never_crashes(text: str) -> None:
        compile_or_reject(text, tmp_path, files, outcomes)

    never_crashes()
    assert outcomes["rejected"] > 0
    # Examples must not leak into each other through the shared values (hypothesis then
    # reports FlakyStrategyDefinition instead of the spec that broke the compiler).
    assert HOSTILE_VALUES == HOSTILE_AT_IMPORT
    if files:
        promtool_accepts(files)


# -- importers -------------------------------------------------------------------------

IMPORT = FIXTURES.parent / "import"
CONVERTERS = {"sloth": import_sloth.convert, "openslo": import_openslo.convert}
SOURCES = {
    tool: list(yaml.safe_load_all((IMPORT / name).read_text()))
    for tool, name in (("sloth", "sloth-payments.yaml"), ("openslo", "openslo-checkout.yaml"))
}


@st.composite
def mutated_source(draw: st.DrawFn) -> tuple[str, str]:
    tool = draw(st.sampled_from(sorted(SOURCES)))
    docs = copy.deepcopy(SOURCES[tool])
    mutate(draw, docs)
    dumped = (yaml.safe_dump(d, allow_unicode=True, sort_keys=False) for d in docs)
    return tool, break_text(draw, "---\n".join(dumped))


def test_imports_of_mutated_sources_convert_or_fail_with_one_line_errors(tmp_path: Path) -> None:
    outcomes = {"imported": 0, "rejected": 0}

    @SETTINGS
    @given(mutated_source())
    def never_crashes(case: tuple[str, str]) -> None:
        tool, text = case
        source = tmp_path / "source.yaml"
        source.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            specs, notes = CONVERTERS[tool](load_file(source))
        except SpecError as exc:
            assert exc.problems
            notes, specs = exc.problems, []
            outcomes["rejected"] += 1
        assert_one_line(notes)
        if specs:
            imports.dump_specs(specs, "source.yaml")
            outcomes["imported"] += 1

    never_crashes()
    assert outcomes["rejected"] > 0
    assert outcomes["imported"] > 0


@settings(max_examples=500)
@given(st.text())
def test_quoted_label_values_are_json_strings_promql_reads_back(value: str) -> None:
    # quote() skips json.dumps where nothing needs escaping: the same text either way,
    # and the parser reads the value back unchanged.
    assert fragments.quote(value) == json.dumps(value, ensure_ascii=False)
    if any("\ud800" <= c <= "\udfff" for c in value):
        return  # a lone surrogate is no valid UTF-8 for the parser
    [(_, matchers)] = fragments.vector_selectors(f"m{{l={fragments.quote(value)}}}")
    assert matchers == (fragments.Matcher("l", "=", value),)
