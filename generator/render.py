"""Stage 5: render rule files through Jinja templates, then make them canonical.

Templates run in Jinja's sandbox with StrictUndefined (a missing variable is an error,
never an empty string). The rendered YAML is parsed back, checked against the schema of
Prometheus rule files and dumped in one canonical form, so output is byte-identical for
the same input whatever the template layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from generator import conventions, expr, promql
from generator.errors import Problem, SpecError
from generator.load import display_path, fast_loader, format_path, too_deep
from generator.model import Check, Service
from generator.plan import (
    FAST_INTERVAL,
    PERIOD_INTERVAL,
    SLOW_INTERVAL,
    ZERO_TRAFFIC_FLOOR,
    SLOPlan,
    WindowRecipe,
    time_to_exhaustion,
)
from generator.units import format_duration, format_le, format_number, human_duration, is_number

HEADER = conventions.GENERATED_HEADER


def package_template(name: str) -> str | None:
    """The text of one of our templates (templates/), or None."""
    path = resources.files("generator.templates").joinpath(name)
    return path.read_text("utf-8") if path.is_file() else None


def environment(
    user_templates: Path | None = None, bytecode: Path | None = None
) -> jinja2.Environment:
    """Our templates, optionally overridden file by file from a user directory.

    User templates run in Jinja's sandbox; ours alone run without its per-attribute
    checks, which cost a third of the rendering time. bytecode: a directory where Jinja
    keeps the compiled templates (checked against each template's source), which saves
    compiling them in a run that renders only a few services.
    """
    loaders: list[jinja2.BaseLoader] = []
    kind: type[jinja2.Environment] = jinja2.Environment
    if user_templates is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_templates)))
        kind = SandboxedEnvironment
    loaders.append(jinja2.PackageLoader("generator.templates", "."))
    env = kind(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        # Templates do not change during a run: no freshness check per include/import.
        auto_reload=False,
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(bytecode)) if bytecode else None,
    )
    env.filters.update(
        q=lambda s: yaml_json(str(s)),
        num=format_number,
        short=lambda v: format_number(round(v, 2)),
        dur=format_duration,
        human=human_duration,
        combine=_combine,
        literal=go_literal,
    )
    # |tojson too: Jinja's default escapes astral characters as JSON surrogate pairs,
    # which YAML cannot read back.
    env.policies["json.dumps_function"] = lambda obj, **kwargs: yaml_json(obj, **kwargs)
    env.globals.update(
        n=conventions,
        prom=lambda expr: "{{ " + expr + " }}",
        by=lambda labels: f" by ({', '.join(labels)})" if labels else "",
        on=lambda labels: f" on ({', '.join(labels)})",
        le_matcher=lambda v: _le_matcher(v),
        exhaustion=time_to_exhaustion,
        is_number=is_number,
        show=show_level,
        floor=ZERO_TRAFFIC_FLOOR,
        base=conventions.BASE_WINDOW_SECONDS,
        intervals={"fast": FAST_INTERVAL, "slow": SLOW_INTERVAL, "period": PERIOD_INTERVAL},
    )
    return env


def load_package_templates(env: jinja2.Environment) -> None:
    """Compile our templates now: processes forked after this inherit them instead of
    each compiling its own (~0.1 s apiece without the bytecode cache). Not with user
    templates, whose mistakes are reported where a service renders them."""
    if env.sandboxed or env.loader is None:
        return
    for name in env.loader.list_templates():
        if name.endswith(".j2"):
            env.get_template(name)


_NOT_YAML_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def yaml_json(value: Any, **json_options: Any) -> str:
    """JSON that YAML reads back as the same value: every character outside printable
    ASCII escaped, astral ones as YAML's \\U (JSON's surrogate pairs are not YAML)."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    text = json.dumps(value, **{**json_options, "ensure_ascii": False})
    return _NOT_YAML_PRINTABLE.sub(escape, text)


def go_literal(text: str) -> str:
    """User text for an annotation, printed verbatim by Prometheus' Go templates: text
    holding a delimiter becomes a template action that prints it as a string literal."""
    if "{{" not in text and "}}" not in text:
        return text
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def _combine(*dicts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        out.update(d)
    return out


def _le_matcher(threshold: float) -> promql.Matcher:
    """Match the bucket whichever way the client prints it: '1' (Go) or '1.0' (Python)."""
    text = format_le(threshold)
    if "." in text or "e" in text:
        return promql.Matcher("le", "=", text)
    return promql.Matcher("le", "=~", f"{text}|{text}\\.0")


def show_level(value: float, unit: str) -> str:
    """A threshold level as people read it in an alert."""
    if unit == "percent":
        return f"{format_number(value)}%"
    if unit == "ratio":
        return f"{format_number(round(value * 100, 10))}%"
    if unit == "seconds":
        return format_duration(value) if value >= 1 or value == 0 else f"{round(value * 1000)}ms"
    if unit == "bytes":
        return _bytes(value)
    if unit == "requests_per_second":
        return f"{format_number(value)} req/s"
    return format_number(value)


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{format_number(round(value, 2))}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _selectors(service: Service) -> dict[str, Callable[..., Any]]:
    def slo_labels(plan: SLOPlan) -> dict[str, str]:
        return {conventions.SERVICE_LABEL: service.name, conventions.SLO_LABEL: plan.slo.name}

    # Templates ask for the same few selectors of an SLO dozens of times: print each once.
    printed: dict[tuple[str, str], str] = {}

    def slo_sel(metric: str, plan: SLOPlan) -> str:
        key = (metric, plan.slo.name)
        if key not in printed:
            printed[key] = promql.selector_text(
                metric,
                (
                    promql.Matcher(conventions.SERVICE_LABEL, "=", service.name),
                    promql.Matcher(conventions.SLO_LABEL, "=", plan.slo.name),
                ),
            )
        return printed[key]

    def check_sel(metric: str, check: Check) -> str:
        return promql.selector_text(
            metric,
            (
                promql.Matcher(conventions.SERVICE_LABEL, "=", service.name),
                promql.Matcher(conventions.CHECK_LABEL, "=", check.name),
            ),
        )

    def shared(plans: list[SLOPlan], group: str) -> list[SharedWindow]:
        return shared_windows(service, plans, group)

    return {"slo_labels": slo_labels, "slo_sel": slo_sel, "check_sel": check_sel, "shared": shared}


@dataclass(frozen=True)
class SharedWindow:
    """One window's rules for every SLO of a service that records it the same way: one
    rule reads all their series (they differ by their `slo` label), so a service with
    several SLOs does not repeat the window's copies once per SLO."""

    window: float
    recipe: WindowRecipe | None  # None: summed over the recorded base rates
    ratio_only: bool  # the error ratio of a window recorded by a recipe, or of none
    matchers: tuple[promql.Matcher, ...]
    # Set when SLOs of the service record this window in different ways: then each SLO
    # has its own rule, which promtool tells apart from the others by these labels.
    labels: dict[str, str] | None = None

    def sel(self, metric: str) -> str:
        return promql.selector_text(metric, self.matchers)


_GROUPS = ("fast", "slow", "period")


def shared_windows(service: Service, plans: list[SLOPlan], group: str) -> list[SharedWindow]:
    """The window rules of one rule group (fast, slow, period), shortest window first:
    the recipes recorded there, then the error ratios of the windows evaluated there.

    A window is recorded once per service, in the most frequent group any of its SLOs
    needs it in (the period group reads the slow group's series either way)."""
    Key = tuple[float, WindowRecipe | None, bool]
    wanted: dict[Key, list[str]] = {}
    placed: dict[Key, int] = {}

    def want(key: Key, where: str, name: str) -> None:
        wanted.setdefault(key, []).append(name)
        placed[key] = min(placed.get(key, len(_GROUPS)), _GROUPS.index(where))

    for plan in plans:
        for where in _GROUPS:
            for recipe in plan.recipes_in(where):
                want((recipe.window, recipe, False), where, plan.slo.name)
        for where, windows in (
            ("fast", plan.fast_windows),
            ("slow", plan.slow_windows),
            ("period", (plan.period_window,) if plan.period_window else ()),
        ):
            for w in windows:
                built = None if w == conventions.BASE_WINDOW_SECONDS else plan.recipe(w)
                want((w, built, True), where, plan.slo.name)
    ways: dict[tuple[float, bool], int] = {}
    for window, _, ratio_only in wanted:
        ways[(window, ratio_only)] = ways.get((window, ratio_only), 0) + 1
    everyone = {p.slo.name for p in plans}
    service_matcher = promql.Matcher(conventions.SERVICE_LABEL, "=", service.name)
    out = []
    for key in sorted(wanted, key=lambda k: (k[2], k[0], repr(k[1]))):
        if _GROUPS[placed[key]] != group:
            continue
        window, how, ratio_only = key
        names = sorted(set(wanted[key]))
        if ways[(window, ratio_only)] > 1:
            for name in names:
                slo = promql.Matcher(conventions.SLO_LABEL, "=", name)
                labels = {conventions.SERVICE_LABEL: service.name, conventions.SLO_LABEL: name}
                out.append(SharedWindow(window, how, ratio_only, (service_matcher, slo), labels))
            continue
        matchers = [service_matcher]
        if len(names) == 1 and len(everyone) > 1:
            matchers.append(promql.Matcher(conventions.SLO_LABEL, "=", names[0]))
        elif set(names) != everyone:
            regex = "|".join(re.escape(n) for n in names)
            matchers.append(promql.Matcher(conventions.SLO_LABEL, "=~", regex))
        out.append(SharedWindow(window, how, ratio_only, tuple(matchers)))
    return out


RULES_SCHEMA = "rules.schema.json"


@cache
def _rules_validator() -> jsonschema.protocols.Validator:
    """The rule-file schema's validator, built once per process."""
    text = resources.files("generator.schema").joinpath(RULES_SCHEMA).read_text("utf-8")
    schema = json.loads(text)
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def rules_text(env: jinja2.Environment, service: Service, plans: list[SLOPlan]) -> str:
    """What rules.yml.j2 renders for the service."""
    try:
        template = env.get_template("rules.yml.j2")
        return template.render(service=service, plans=plans, **_selectors(service))
    except jinja2.TemplateError as exc:
        raise SpecError([_template_problem(exc, service)]) from exc


def render_rules(env: jinja2.Environment, service: Service, plans: list[SLOPlan]) -> dict[str, Any]:
    """The rule file of one service as data, checked against the rule-file schema."""
    text = rules_text(env, service, plans)
    try:
        if too_deep(text):
            raise yaml.YAMLError("the YAML nests too deeply")
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise SpecError(
            [Problem(service.source, 0, 0, "", f"template produced invalid YAML: {exc}")]
        ) from exc
    error = jsonschema.exceptions.best_match(_rules_validator().iter_errors(data))
    if error is not None:
        where = format_path(tuple(error.absolute_path)) or "the top"
        message = f"template produced an invalid rule file at {where}: {error.message}"
        raise SpecError([Problem(service.source, 0, 0, "", f"{message}; fix the template")])
    return _canonical(data, service)


def _canonical(data: dict[str, Any], service: Service) -> dict[str, Any]:
    """Every expression through our PromQL printer (generator/expr.py); a zero
    `for` is left out, as Prometheus treats both the same."""
    for group in data["groups"]:
        for rule in group["rules"]:
            try:
                parsed = promql.parse(rule["expr"], promql.MAX_RULE_CHARS)
                rule["expr"] = expr.layout(expr.from_parsed(parsed))
            except promql.PromQLError as exc:
                name = rule.get("record") or rule.get("alert")
                raise SpecError(
                    [service.origin.problem(f"template produced invalid PromQL for {name}: {exc}")]
                ) from exc
            if rule.get("for") == "0s":
                del rule["for"]
    return data


def _template_problem(exc: jinja2.TemplateError, service: Service) -> Problem:
    """Where in which template it went wrong: syntax errors carry it, runtime errors only
    in the traceback, whose frames Jinja maps back to template lines."""
    name = getattr(exc, "filename", None) or getattr(exc, "name", None) or ""
    line = getattr(exc, "lineno", 0) or 0
    if not line:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.endswith(".j2"):
                name, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
            tb = tb.tb_next
    where = display_path(Path(name)) if name else "template"
    message = (exc.message or type(exc).__name__).rstrip(".")
    if isinstance(exc, SecurityError):
        fix = "templates run in a sandbox: use only the variables and filters promspec passes"
    elif isinstance(exc, jinja2.UndefinedError):
        fix = "define it, or use a variable promspec passes (see templates/*.j2)"
    else:
        fix = "fix the template"
    return Problem(
        where, line, 1 if line else 0, "", f"{message} (rendering service '{service.name}'); {fix}"
    )


def load_yaml(text: str) -> Any:
    """What a template rendered, as data (libyaml's loader when PyYAML has it)."""
    return yaml.load(text, Loader=fast_loader())


class YamlDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's safe dumper (PyYAML's own where it was built without libyaml)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line strings (long expressions, descriptions) as literal blocks, read as written.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


YamlDumper.add_representer(str, _str)


def dump(data: Any, source: str) -> str:
    """The canonical text: block style, keys in insertion order, unicode as is, no folding."""
    return HEADER.format(source=source) + yaml.dump(
        data,
        Dumper=YamlDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
        indent=2,
    )
