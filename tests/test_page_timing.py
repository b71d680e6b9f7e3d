"""Issue 21.1: a total outage on a 99.9%/30d SLO at 100 req/s pages within 90 s of the
first failed scrape, and not before the math allows. Proven with promtool on the rules
promspec generates with its built-in tiers, at real intervals: the fast rule group's 30s
evaluation, and scrapes every 1s to 1m at several phases against the evaluations.

The arithmetic, checked by hand for every case below. page_fast fires when the 1h and 5m
error ratios are both above 14.4 x 0.1% = 1.44%. The 1h window holds 100 req/s x 3600 s =
360000 requests, so it needs more than 5184 failures: 51.84 s of a total outage. The 5m
window (30000 requests, 432 failures) is there long before. Worst case for the page: the
outage begins just before a scrape, so the first failed scrape F shows 1 failure and each
later scrape j scrape intervals on shows 1 + 100 x j x scrape failures. An evaluation reads
the last scrape at or before it; the evaluations run every 30 s, F sits `phase` seconds
after one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import SHOP_SPEC, run_cli

from generator.proofs.series import expanding

ALERT = "ShopAvailabilityErrorBudgetBurn"
RATE = 100.0  # requests per second
HISTORY = 7200  # seconds of clean traffic before the evaluation F follows: 1h window + 5m
MATH = 3600 * 14.4 * 0.001  # 51.84 s of a total outage to cross page_fast's threshold

# (scrape interval, phase of F after an evaluation, last silent evaluation after F,
# evaluation after F at which page_fast fires), every number worked out by hand:
CASES = [
    # Scrapes F, F+15, ... F+60 holds 1 + 6000 failures. Evaluations at F+30 (3001: no)
    # and F+60 (yes).
    (15, 0, 30, 60),
    # Evaluations at F+45 (last scrape F+45, 4501: no) and F+75 (F+75, 7501: yes).
    (15, 15, 45, 75),
    # Evaluations at F+59 (last scrape F+50, 5001: no) and F+89 (F+80, 8001: yes).
    (10, 1, 59, 89),
    # Evaluations at F+59 (last scrape F+30, 3001: no) and F+89 (F+60, 6001: yes).
    (30, 1, 59, 89),
    # Prometheus' default scrape interval. F+59 reads F (1: no), F+89 reads F+60 (6001).
    (60, 1, 59, 89),
    # Scraped every second: F+29 reads F+29 (2901: no), F+59 reads F+59 (5901: yes).
    (1, 1, 29, 59),
]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("page-timing")
    (root / "specs").mkdir()
    (root / "specs" / "shop.yaml").write_text(SHOP_SPEC)
    result = run_cli("generate", str(root / "specs"), "--out", str(root / "out"))
    assert result.returncode == 0, result.stderr
    path = root / "out" / "prometheus" / "shop.rules.yml"
    page_fast = [
        r
        for g in yaml.safe_load(path.read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == ALERT and r["labels"]["burn_tier"] == "page_fast"
    ]
    assert len(page_fast) == 1 and "for" not in page_fast[0]  # the built-in default
    return path


def held(values: list[float], scrape: int, phase: int, end: int) -> str:
    """Per-second samples of a counter scraped every `scrape` seconds, at phase `phase`:
    each second reads what the last scrape saw, as a Prometheus instant selector does."""
    out, last = [], values[0]
    for t in range(end + 1):
        if t >= phase and (t - phase) % scrape == 0:
            last = values[(t - phase) // scrape]
        out.append(last)
    return expanding(out)


@pytest.mark.parametrize(("scrape", "phase", "silent", "fires"), CASES)
def test_a_total_outage_pages_within_90s_of_the_first_failed_scrape(
    rules: Path, tmp_path: Path, scrape: int, phase: int, silent: int, fires: int
) -> None:
    assert fires <= 90  # the claim, and the last silent evaluation holds too few failures
    assert fires - silent == 30
    first_failed = HISTORY + phase  # F
    end = first_failed + 120
    scrapes = range((end - phase) // scrape + 1)  # scrape j at phase + j * scrape
    times = [phase + j * scrape for j in scrapes]
    total = [RATE * t for t in times]
    failed = [0.0 if t < first_failed else 1 + RATE * (t - first_failed) for t in times]
    good = [n - f for n, f in zip(total, failed, strict=True)]

    # Failures held by the last scrape each checked evaluation reads, against the math.
    def held_at(evaluation: int) -> float:
        return max(f for t, f in zip(times, failed, strict=True) if t <= evaluation)

    assert held_at(first_failed + silent) <= RATE * MATH < held_at(first_failed + fires)
    firing = f'ALERTS{{alertname="{ALERT}",alertstate="firing",burn_tier="page_fast"}}'
    labels = (
        f'ALERTS{{alertname="{ALERT}",alertstate="firing",burn_tier="page_fast",'
        'service="shop",severity="critical",slo="availability",team="shop"}'
    )
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "30s",  # the fast group's interval, as deployed
        "tests": [
            {
                "interval": "1s",
                "input_series": [
                    {
                        "series": 'http_requests_total{job="shop",code="200"}',
                        "values": held(good, scrape, phase, end),
                    },
                    {
                        "series": 'http_requests_total{job="shop",code="500"}',
                        "values": held(failed, scrape, phase, end),
                    },
                ],
                "promql_expr_test": [
                    # A clean hour first: nothing fires on the history.
                    {"expr": firing, "eval_time": f"{HISTORY}s", "exp_samples": []},
                    {"expr": firing, "eval_time": f"{first_failed + silent}s", "exp_samples": []},
                    {
                        "expr": firing,
                        "eval_time": f"{first_failed + fires}s",
                        "exp_samples": [{"labels": labels, "value": 1}],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "page.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found; run scripts/ensure-prometheus.sh"
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
