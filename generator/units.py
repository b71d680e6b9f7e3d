"""Durations and numbers as Prometheus writes them. Pure functions, no I/O."""

from __future__ import annotations

import re

# Prometheus duration units, largest first (y = 365d, w = 7d, as Prometheus defines them).
_UNITS = (("y", 31_536_000), ("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_UNIT_SECONDS = dict(_UNITS) | {"ms": 0.001}
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as '1h30m' or '300ms'."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"'{text}' is not a duration; write it like 30s, 5m, 1h, 7d or 1h30m")
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for whole seconds: 3600 -> '1h', 5400 -> '1h30m'."""
    if seconds <= 0:
        return "0s"
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    rest = int(seconds)
    out = ""
    for unit, size in _UNITS:
        if unit in ("y", "w"):
            continue  # days read better than weeks in windows: 28d, not 4w
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


def human_duration(seconds: float) -> str:
    """Words for people: 172800 -> '2 days', 7500 -> '2 hours 5 minutes'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    parts = []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            seconds %= size
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " ".join(parts[:2])


def format_number(value: float) -> str:
    """A float as PromQL and people read it: 14.4, 0.001, 6, 0.9333333333333333 -> 0.9333."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.10g}"
    return text if "e" not in text else repr(value)


def exact_number(value: float) -> str:
    """A float that reads back as the very same float (promtool compares samples exactly)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def format_le(value: float) -> str:
    """A bucket boundary as client libraries print the `le` label ('0.3', '1', '+Inf')."""
    if value == float("inf"):
        return "+Inf"
    return format_number(value)


def is_number(text: str) -> bool:
    """A capacity limit (or level) written as a number rather than an expression."""
    try:
        float(text)
    except ValueError:
        return False
    return True
