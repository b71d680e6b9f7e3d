"""Synthetic input series for promtool tests: label sets that satisfy selectors, and
sample lists in promtool's expanding notation. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from generator.promql.fragments import Matcher, selector_text
from generator.units import format_number

# The value given to labels a selector does not pin (group_by labels, regex matchers).
SYNTHETIC_VALUE = "synthetic"


class Unsupported(ValueError):
    """No synthetic input can be derived; the message says why."""


def matches(labels: dict[str, str], matchers: Iterable[Matcher]) -> bool:
    for m in matchers:
        have = labels.get(m.name, "")
        if m.op == "=":
            ok = have == m.value
        elif m.op == "!=":
            ok = have != m.value
        else:
            ok = (_fullmatch(m.value, have) is not None) == (m.op == "=~")
        if not ok:
            return False
    return True


def _fullmatch(pattern: str, text: str) -> re.Match[str] | None:
    """Prometheus regexes are RE2; the few Python cannot read are not proven, not a crash."""
    try:
        return re.fullmatch(pattern, text)
    except re.error as exc:
        raise Unsupported(f"cannot evaluate the regular expression {pattern!r}: {exc}") from exc


def _regex_examples(pattern: str) -> list[str]:
    first = pattern.split("|")[0]
    simple = re.sub(r"\[([^\]])[^\]]*\]", r"\1", first)  # [a-z] -> a
    simple = simple.replace("\\.", "\0").replace(".", "0").replace("\0", ".")
    simple = re.sub(r"[*+?^$()]", "", simple)
    return [simple, first, "500", "5xx", "0", SYNTHETIC_VALUE, ""]


def satisfy(matchers: Sequence[Matcher], extra: dict[str, str] | None = None) -> dict[str, str]:
    """A label set (metric name excluded) that the matchers select."""
    labels: dict[str, str] = dict(extra or {})
    for m in matchers:
        if m.op == "=" and m.value:
            labels[m.name] = m.value
        elif m.op == "=~":
            found = next((c for c in _regex_examples(m.value) if _fullmatch(m.value, c)), None)
            if found is None:
                raise Unsupported(f"cannot find a value for {m.name}=~{m.value!r}")
            if found:
                labels[m.name] = found
    for m in matchers:
        if m.op in ("!=", "!~") and not matches(labels, [m]):
            labels[m.name] = SYNTHETIC_VALUE
    if not matches(labels, matchers):
        raise Unsupported(f"cannot build a series for {selector_text(None, matchers)}")
    return labels


def series_text(metric: str, labels: dict[str, str]) -> str:
    return selector_text(metric, [Matcher(k, "=", v) for k, v in sorted(labels.items())])


def _num(value: float) -> str:
    return format_number(round(value, 9))


def expanding(values: Sequence[float]) -> str:
    """Samples as promtool's expanding notation, runs of a constant step folded: 0+5x10."""
    parts = []
    i, n = 0, len(values)
    while i < n:
        j = i
        if i + 1 < n:
            step = round(values[i + 1] - values[i], 9)
            while j + 1 < n and round(values[j + 1] - values[j], 9) == step:
                j += 1
        else:
            step = 0.0
        count = j - i
        if count == 0:
            parts.append(_num(values[i]))
        else:
            sign = "+" if step >= 0 else "-"
            parts.append(f"{_num(values[i])}{sign}{_num(abs(step))}x{count}")
        i = j + 1
    return " ".join(parts)


def exact(values: Sequence[float | None]) -> str:
    """Samples written so promtool reads back the very floats given ('_' for none):
    only runs of one value are folded (adding 0 is exact; a folded step is not)."""
    parts = []
    i, n = 0, len(values)
    while i < n:
        j = i
        while j + 1 < n and values[j + 1] == values[i]:
            j += 1
        v = values[i]
        text = "_" if v is None else repr(float(v))
        if j == i or v is None:
            parts.extend([text] * (j - i + 1))
        else:
            parts.append(f"{text}+0x{j - i}")
        i = j + 1
    return " ".join(parts)


def parse_expanding(text: str) -> list[float]:
    """The samples promtool reads from expanding notation ('a+bxn' adds b n times)."""
    out: list[float] = []
    for part in text.split():
        if "x" not in part:
            out.append(float(part))
            continue
        head, count = part.split("x")
        cut = max(i for i, ch in enumerate(head) if ch in "+-" and i > 0 and head[i - 1] != "e")
        value, step = float(head[:cut]), float(head[cut:])
        for _ in range(int(count) + 1):
            out.append(value)
            value += step
    return out
