"""`promspec import sloth|openslo`: exact specs out, exact notes on what was left behind,
and the result compiles and passes promtool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from generator import imports, pipeline

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
    assert result.stdout == (
        f"promspec: 1 services imported from tests/fixtures/import/{name}.yaml "
        f"into {specs / 'x.yaml'}\n"
    )
    (specs / "_defaults.yaml").write_text(DEFAULTS)
    compiled = pipeline.compile_specs([specs])
    assert compiled.promtool_checked
    assert compiled.services


def test_sloth_notes_name_what_was_dropped() -> None:
    notes = (IMPORT / "sloth-payments.notes.txt").read_text()
    assert "slos[2].sli: SLO 'latency-ratio' skipped: a raw error_ratio_query" in notes
    assert "slos[0].alerting: alerting name, labels, annotations not carried over" in notes


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

    schema = json.loads((ROOT / "generator" / "schema" / name).read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
