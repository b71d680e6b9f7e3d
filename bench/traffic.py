"""Synthetic request counters for the evaluation benchmark, and their exact error ratios.

`series` counters `http_requests_total{job, instance, code}`: half the series are
`code="200"`, half `code="500"`, one pair per instance. Each instance has its own rate
and error share (seeded), and is scraped every 30 s at its own offset, as Prometheus
spreads targets. Rates are piecewise constant per hour (hours counted from the start of
the history):

- steady: the same rate and error share every hour;
- bursty: each hour's volume is 1x-10x (log-uniform) and its error share moves against
  it (quiet hours fail more), so an average of 5m ratios is biased against the ratio
  of events.

Counters are exact integrals of those rates, so two exact ratios of any window are known
in closed form: of the events that happened in it (`events_ratio`), and of what the
counters as scraped gained in it (`scraped_ratio`), the most any rule can know, since
events after an instance's last scrape are not in Prometheus yet.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

JOB = "bench"
METRIC = "http_requests_total"
SCRAPE_S = 30
HOUR_S = 3600
SHAPES = ("steady", "bursty")


@dataclass
class Traffic:
    shape: str
    series: int
    start: int  # unix seconds; counters are 0 here
    end: int  # last second with samples
    rates: list[float]  # requests/s of each instance in a 1x hour
    shares: list[float]  # error share of each instance in a 1x hour
    volume: list[float]  # per hour from start: rate multiplier
    failing: list[float]  # per hour from start: error share multiplier
    _cum: list[tuple[float, float]] = field(init=False, repr=False)

    @property
    def instances(self) -> int:
        return self.series // 2

    def offset(self, instance: int) -> float:
        """Scrape offset of an instance within the 30 s interval (golden-ratio spread)."""
        return round((instance * 0.6180339887 % 1.0) * SCRAPE_S, 3)

    def cumulative(self, t: float) -> tuple[float, float]:
        """(total, errors) integrals of the hourly multipliers from start to t."""
        hours, rest = divmod(t - self.start, HOUR_S)
        h = int(hours)
        total, errors = self._cum[h]
        return total + rest * self.volume[h], errors + rest * self.volume[h] * self.failing[h]

    def __post_init__(self) -> None:
        cum, total, errors = [], 0.0, 0.0
        for v, f in zip(self.volume, self.failing, strict=True):
            cum.append((total, errors))
            total, errors = total + v * HOUR_S, errors + v * f * HOUR_S
        cum.append((total, errors))
        self._cum = cum

    def scraped_ratio(self, t_from: float, t_to: float) -> float:
        """Errors / total gained by the counters between each instance's last scrape at or
        before t_from (its first scrape, when there is none) and its last at or before t_to,
        summed over instances: the window's ratio as the raw samples tell it."""
        errors = total = 0.0
        for i, (rate, share) in enumerate(zip(self.rates, self.shares, strict=True)):
            (tot0, err0), (tot1, err1) = (
                self.cumulative(self.last_scrape(i, t)) for t in (t_from, t_to)
            )
            errors += rate * share * (err1 - err0)
            total += rate * (tot1 - tot0)
        return errors / total

    def last_scrape(self, instance: int, t: float) -> float:
        """The time of the instance's last scrape at or before t (its first, if none)."""
        first = self.start + self.offset(instance)
        return first + max(0, (t - first) // SCRAPE_S) * SCRAPE_S

    def events_ratio(self, t_from: float, t_to: float) -> float:
        """increase(errors) / increase(total) over [t_from, t_to], summed over instances."""
        t_from = max(t_from, self.start)
        (tot0, err0), (tot1, err1) = self.cumulative(t_from), self.cumulative(t_to)
        weight_total = sum(self.rates)
        weight_errors = sum(r * s for r, s in zip(self.rates, self.shares, strict=True))
        return (weight_errors * (err1 - err0)) / (weight_total * (tot1 - tot0))


def make(shape: str, series: int, start: int, end: int, seed: int = 6) -> Traffic:
    rng = random.Random(f"{series}-{seed}")
    instances = series // 2
    rates = [rng.uniform(2.0, 20.0) for _ in range(instances)]
    shares = [rng.uniform(0.0005, 0.0015) for _ in range(instances)]
    hours = (end - start) // HOUR_S + 2
    if shape == "steady":
        volume, failing = [1.0] * hours, [1.0] * hours
    else:
        # The same hourly pattern at every size, so sizes differ only in series.
        hourly = random.Random(f"hours-{seed}")
        volume = [10 ** hourly.random() for _ in range(hours)]
        # Quiet hours fail more (up to ~20x the share of the busiest), as batch jobs or a
        # night-time dependency might: the case where averaging ratios goes wrong.
        failing = [2.0 / v * hourly.uniform(0.5, 1.5) for v in volume]
    return Traffic(shape, series, start, end, rates, shares, volume, failing)


def _series(traffic: Traffic) -> list[tuple[str, str]]:
    """(ok, failed) series names of each instance."""
    return [
        (
            f'{METRIC}{{code="200",instance="i{i:04d}",job="{JOB}"}}',
            f'{METRIC}{{code="500",instance="i{i:04d}",job="{JOB}"}}',
        )
        for i in range(traffic.instances)
    ]


def _values(traffic: Traffic, i: int, t: float) -> tuple[float, float]:
    """(ok, failed) counter values of instance i at time t."""
    total, errors = traffic.cumulative(t)
    rate, share = traffic.rates[i], traffic.shares[i]
    failed = rate * share * errors
    return rate * total - failed, failed


def openmetrics(traffic: Traffic) -> Iterator[str]:
    """The counters as OpenMetrics text, in time order, one scrape round per chunk."""
    yield f"# TYPE {METRIC.removesuffix('_total')} counter\n"
    labels = _series(traffic)
    offsets = [traffic.offset(i) for i in range(traffic.instances)]
    for base in range(traffic.start, traffic.end + 1, SCRAPE_S):
        lines = []
        for i, (ok, bad) in enumerate(labels):
            t = base + offsets[i]
            if t > traffic.end:
                continue
            good, failed = _values(traffic, i, t)
            lines.append(f"{ok} {good:.4f} {t:.3f}\n")
            lines.append(f"{bad} {failed:.4f} {t:.3f}\n")
        yield "".join(lines)
    yield "# EOF\n"


def exposition(traffic: Traffic, t: float) -> str:
    """Every counter at time t, in Prometheus' text format, for a live scrape after the
    history: the same series, continuing the backfilled values (no timestamps: the
    scrape's own)."""
    if t >= traffic.start + (len(traffic.volume) - 1) * HOUR_S:
        raise ValueError("the traffic's hourly pattern ends before this time")
    lines = [f"# TYPE {METRIC} counter\n"]
    for i, (ok, bad) in enumerate(_series(traffic)):
        good, failed = _values(traffic, i, t)
        lines.append(f"{ok} {good:.4f}\n{bad} {failed:.4f}\n")
    return "".join(lines)


def write_openmetrics(traffic: Traffic, path: Path) -> int:
    """Write the OpenMetrics file; returns its size in bytes."""
    with path.open("w", encoding="ascii") as f:
        for chunk in openmetrics(traffic):
            f.write(chunk)
    return path.stat().st_size
