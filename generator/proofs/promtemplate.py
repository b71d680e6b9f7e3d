"""Alert annotations as Prometheus renders them, for the values our scenarios predict.

promtool compares every annotation of a firing alert exactly, so the expected text needs
`{{ $value | ... }}` expanded the way Prometheus 2.42 does. Only the forms promspec's
templates use are supported; anything else is an error, never a guess. Pure functions.
"""

from __future__ import annotations

import math
import re

_VALUE = re.compile(
    r"\{\{\s*\$value\s*(?:\|\s*(humanizePercentage|humanizeDuration|humanize1024|humanize"
    r'|printf\s+"([^"]*)"))?\s*\}\}'
)


class TemplateUnsupported(ValueError):
    """An annotation uses template features the scenario generator cannot predict."""


def _g4(value: float) -> str:
    """Go's %.4g, which Python's %-formatting matches (same rounding, same exponent form)."""
    return f"{value:.4g}"


def humanize(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    if v == 0:
        return _g4(v)
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize1024(v: float) -> str:
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v) + prefix


def humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = int(v)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(v: float) -> str:
    return _g4(v * 100) + "%"


def _printf(fmt: str, v: float) -> str:
    if not re.fullmatch(r"%\.\d+f", fmt):
        raise TemplateUnsupported(f"printf {fmt!r} is not supported")
    return fmt % v


def _plain(v: float) -> str:
    """Go's %v for a float64 (strconv 'g', shortest)."""
    if v == int(v) and abs(v) < 1e21:
        return str(int(v))
    return repr(v)


def expand(template: str, value: float) -> str:
    """The annotation text with every `{{ $value ... }}` expanded."""

    def one(m: re.Match[str]) -> str:
        func, fmt = m.group(1), m.group(2)
        if fmt is not None:
            return _printf(fmt, value)
        funcs = {
            None: _plain,
            "humanize": humanize,
            "humanize1024": humanize1024,
            "humanizeDuration": humanize_duration,
            "humanizePercentage": humanize_percentage,
        }
        return funcs[func](value)

    text = _VALUE.sub(one, template)
    if "{{" in text:
        raise TemplateUnsupported(f"cannot predict the template in {template!r}")
    return text


def is_stable(template: str, value: float) -> bool:
    """True when float noise in the value (Go sums in another order) cannot change the text."""
    here = expand(template, value)
    delta = max(abs(value) * 1e-9, 1e-12)
    return expand(template, value + delta) == here == expand(template, value - delta)


def value_forms(template: str) -> tuple[tuple[str, str], ...]:
    """The `{{ $value ... }}` forms of a template, in order: the only parts of expand's
    text that depend on the value (everything else is copied), so is_stable of two
    templates with the same forms agrees for every value."""
    return tuple(_VALUE.findall(template))
