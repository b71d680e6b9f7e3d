"""Stage 5: build rule files through Jinja templates, then make them canonical.

Our templates build the file as data: they append dicts and lists to `doc`, which the
renderer passes in (Jinja's `do` extension), so nothing is printed and read back; the
words of the alerts are strings made by macros and filters. A template a user gives
(--templates) may instead write the YAML as text, the way before: text a template prints
is parsed, in its place among the data. User templates run in Jinja's sandbox, and what
they make is checked against the schema of Prometheus rule files. All templates run with
StrictUndefined (a missing variable is an error, never an empty string). The data is
dumped once, in one canonical form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from generator import conventions
from generator.errors import Problem, SpecError
from generator.promql import expr
from generator.promql import fragments as promql
from generator.rules import checks as check_rules
from generator.rules import slo as slo_rules
from generator.rules import sloth_compat
from generator.slo.plan import (
    FAST_INTERVAL,
    PERIOD_INTERVAL,
    SLOW_INTERVAL,
    ZERO_TRAFFIC_FLOOR,
    SLOPlan,
    time_to_exhaustion,
)
from generator.spec.load import display_path, fast_loader, format_path, too_deep
from generator.spec.model import Check, Service
from generator.units import (
    exact_number,
    format_duration,
    format_le,
    format_number,
    human_duration,
    is_number,
)

HEADER = conventions.GENERATED_HEADER


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
        # {% do doc.groups.append(...) %}: how templates build the file as data.
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        q=lambda s: yaml_json(str(s)),
        num=format_number,
        exact=exact_number,
        short=lambda v: format_number(round(v, 2)),
        dur=format_duration,
        human=human_duration,
        combine=_combine,
        literal=go_literal,
        sorted_keys=sorted_keys,
        exact_value=lambda v: yaml_scalar(exact_number(v)),
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


def sorted_keys(mapping: Any) -> dict[str, Any]:
    """A new dict (a mapping or pairs) with its keys sorted, as |tojson writes them; new,
    since a dict the file holds twice would be dumped as a YAML anchor and alias."""
    return dict(sorted(dict(mapping).items()))


_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


@cache
def yaml_scalar(text: str) -> Any:
    """What YAML reads the plain scalar `text` as: an int, a float, or a string such as
    1e-05 (YAML 1.1 floats need a dot), by PyYAML's own resolver, without a parse."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text))


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
    def slo_sel(metric: str, plan: SLOPlan) -> str:
        return promql.selector_text(
            metric,
            (
                promql.Matcher(conventions.SERVICE_LABEL, "=", service.name),
                promql.Matcher(conventions.SLO_LABEL, "=", plan.slo.name),
            ),
        )

    def check_sel(metric: str, check: Check) -> str:
        return promql.selector_text(
            metric,
            (
                promql.Matcher(conventions.SERVICE_LABEL, "=", service.name),
                promql.Matcher(conventions.CHECK_LABEL, "=", check.name),
            ),
        )

    # For --templates overrides written before the rules were data (the Sloth copies
    # and check rules wrote their expressions as text around these selectors).
    return {"slo_sel": slo_sel, "check_sel": check_sel}


RULES_SCHEMA = "rules.schema.json"


@cache
def _rules_validator() -> jsonschema.protocols.Validator:
    """The rule-file schema's validator, built once per process."""
    text = resources.files("generator.spec.schema").joinpath(RULES_SCHEMA).read_text("utf-8")
    schema = json.loads(text)
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


def rules_data(
    env: jinja2.Environment,
    service: Service,
    plans: list[SLOPlan],
    slo_groups: list[slo_rules.Group],
    check_groups: dict[str, check_rules.Group],
    sloth_group: slo_rules.Group | None,
) -> Any:
    """What rules.yml.j2 builds for the service, with what templates wrote as text parsed."""
    doc: dict[str, Any] = {"groups": []}
    try:
        text = env.get_template("rules.yml.j2").render(
            doc=doc,
            service=service,
            plans=plans,
            slo_groups=slo_groups,
            check_groups=check_groups,
            sloth_group=sloth_group,
            **_selectors(service),
        )
    except jinja2.TemplateError as exc:
        raise SpecError([_template_problem(exc, service)]) from exc
    try:
        data: Any = {"groups": _with_text_groups(env, doc["groups"])}
        if text.strip():
            # A rules.yml.j2 of the user's that writes the file as text; any groups our
            # templates it includes built come after its own.
            groups, data = data["groups"], template_yaml(env, text)
            if groups and isinstance(data, dict):
                data["groups"] = [*(data.get("groups") or []), *groups]
        return plain_data(data) if env.sandboxed else data
    except yaml.YAMLError as exc:
        raise SpecError(
            [Problem(service.source, 0, 0, "", f"template produced invalid YAML: {exc}")]
        ) from exc


def _with_text_groups(env: jinja2.Environment, groups: list[Any]) -> list[Any]:
    """The groups, with each part a template printed as YAML text (a list of groups)
    parsed in its place."""
    if not any(isinstance(g, str) for g in groups):
        return groups
    out: list[Any] = []
    for group in groups:
        if not isinstance(group, str):
            out.append(group)
            continue
        parsed = template_yaml(env, group)
        if isinstance(parsed, list):
            out.extend(parsed)
        elif parsed is not None:
            out.append(parsed)  # not a list of groups: the schema check says so
    return out


def plain_data(value: Any) -> Any:
    """What a user's template built (the sandbox), as new dicts, lists and scalars of
    the types YAML dumps: not Jinja's Markup (a str), a tuple (a Python tag) or a dict
    held twice (an anchor). Raises yaml.YAMLError on any other value."""
    try:
        return _plain(value, ())
    except RecursionError:
        raise yaml.YAMLError("the data nests too deeply, or holds itself") from None


def _plain(value: Any, where: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        return {_plain(k, where): _plain(v, (*where, k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, (*where, i)) for i, v in enumerate(value)]
    if isinstance(value, str):
        return str(value)
    if type(value) in (int, float, bool, type(None)):
        return value
    at = format_path(where) or "the top"
    raise yaml.YAMLError(
        f"{at} holds a {type(value).__name__}: not a mapping, list, text or number"
    )


def template_yaml(env: jinja2.Environment, text: str) -> Any:
    """YAML a template printed (a user's, written the way before templates built data)."""
    # Ours build data; a user's template could nest deep enough to overflow libyaml's stack.
    if env.sandboxed and too_deep(text):
        raise yaml.YAMLError("the YAML nests too deeply")
    return load_yaml(text)


def render_rules(env: jinja2.Environment, service: Service, plans: list[SLOPlan]) -> dict[str, Any]:
    """The rule file of one service as data, checked against the rule-file schema."""
    slo_groups = slo_rules.groups(service, plans)
    check_groups = check_rules.groups(service)
    sloth_group = sloth_compat.group(service, plans) if service.compat_sloth and plans else None
    data = rules_data(env, service, plans, slo_groups, check_groups, sloth_group)
    # Only what a user's templates (--templates, the sandbox) lay out can be malformed:
    # ours are pinned by the golden files, and promtool checks every file anyway.
    error = None
    if env.sandboxed:
        error = jsonschema.exceptions.best_match(_rules_validator().iter_errors(data))
    if error is not None:
        where = format_path(tuple(error.absolute_path)) or "the top"
        message = f"template produced an invalid rule file at {where}: {error.message}"
        raise SpecError([Problem(service.source, 0, 0, "", f"{message}; fix the template")])
    built = {r.text for g in slo_groups for r in g.rules}
    built.update(r.text for g in check_groups.values() for r in g.rules)
    built.update(r.text for r in (sloth_group.rules if sloth_group else ()))
    return _canonical(data, service, built)


def _canonical(data: dict[str, Any], service: Service, built: set[str]) -> dict[str, Any]:
    """Every expression a template wrote as text through our PromQL printer
    (generator/promql/expr.py), which also proves it parses; those built as data (`built`) are
    printed already. A zero `for` is left out, as Prometheus treats both the same."""
    for group in data["groups"]:
        for rule in group["rules"]:
            if rule.get("for") == "0s":
                del rule["for"]
            if rule["expr"] in built:
                continue
            try:
                parsed = promql.parse(rule["expr"], promql.MAX_RULE_CHARS)
                rule["expr"] = expr.layout(expr.from_parsed(parsed))
            except promql.PromQLError as exc:
                name = rule.get("record") or rule.get("alert")
                raise SpecError(
                    [service.origin.problem(f"template produced invalid PromQL for {name}: {exc}")]
                ) from exc
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
    """YAML text as data (libyaml's loader when PyYAML has it)."""
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
