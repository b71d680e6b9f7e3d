"""Command-line options choosing output formats (`--format`) and their settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from generator import conventions
from generator.spec import inputs
from generator.spec.inputs import display_path

# The writers (and Jinja, YAML behind them) are imported when compiling only: `check`
# answers from its cache without them.
if TYPE_CHECKING:
    from generator.rules import formats

F = TypeVar("F", bound=Callable[..., Any])
K8S_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def _split_formats(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name not in conventions.FORMAT_NAMES:
                raise click.BadParameter(
                    f"unknown format '{name}'; choose from {', '.join(conventions.FORMAT_NAMES)}"
                )
            if name not in names:
                names.append(name)
    return tuple(names) or (conventions.FORMAT_PROMETHEUS,)


def _labels(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    out = []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{value}' is not KEY=VALUE, e.g. release=prometheus")
        out.append((key, val))
    return tuple(out)


@dataclass(frozen=True)
class FormatFlags:
    names: tuple[str, ...]
    namespace: str
    operator_name: str
    operator_labels: tuple[tuple[str, str], ...]
    mimir_max_rules: int
    partial_response_strategy: str
    alertmanager_config: Path | None

    def alertmanager_file(self, specs: list[Path]) -> Path | None:
        """The user's Alertmanager file this run reads, if any."""
        if conventions.FORMAT_ALERTMANAGER not in self.names:
            return None
        return self.alertmanager_config or inputs.find_alertmanager_file(specs)

    def cache_key(self) -> dict[str, Any]:
        """Every flag that shapes the output (the Alertmanager file's bytes are hashed
        with the other input files)."""
        return {
            "formats": list(self.names),
            "namespace": self.namespace,
            "operator_name": self.operator_name,
            "operator_labels": [list(label) for label in self.operator_labels],
            "mimir_max_rules": self.mimir_max_rules,
            "partial_response_strategy": self.partial_response_strategy,
        }

    def options(self, specs: list[Path]) -> formats.Options:
        from generator import pipeline
        from generator.rules import formats

        base: dict[str, Any] = {}
        source = ""
        if conventions.FORMAT_ALERTMANAGER in self.names:
            path = self.alertmanager_file(specs)
            if path is not None:
                base, source = pipeline.load_alertmanager_file(path), display_path(path)
        options = formats.Options(
            formats=self.names,
            namespace=self.namespace,
            operator_name=self.operator_name,
            operator_labels=self.operator_labels,
            mimir_max_rules=self.mimir_max_rules,
            partial_response_strategy=self.partial_response_strategy,
            alertmanager_base=base,
            alertmanager_source=source,
        )
        problems = formats.option_problems(options)
        if problems:
            raise click.UsageError("; ".join(problems))
        return options


def format_options(func: F) -> F:
    """The options of every command that compiles; the command gets `fmt: FormatFlags`."""
    options = [
        click.option(
            "--format",
            "formats_",
            multiple=True,
            callback=_split_formats,
            metavar="NAME[,NAME]",
            help="Output targets, repeatable or comma-separated: "
            f"{', '.join(conventions.FORMAT_NAMES)} (default: prometheus).",
        ),
        click.option(
            "--namespace",
            default=conventions.OPERATOR_DEFAULT_NAMESPACE,
            show_default=True,
            help="operator: metadata.namespace of the PrometheusRule objects.",
        ),
        click.option(
            "--operator-name",
            default=conventions.OPERATOR_DEFAULT_NAME,
            show_default=True,
            help="operator: metadata.name, with {service} for the service name.",
        ),
        click.option(
            "--operator-label",
            "operator_labels",
            multiple=True,
            callback=_labels,
            metavar="KEY=VALUE",
            help="operator: a metadata label, repeatable; e.g. release=prometheus for an "
            "operator whose ruleSelector matches it.",
        ),
        click.option(
            "--mimir-max-rules",
            type=click.IntRange(min=1),
            default=conventions.MIMIR_DEFAULT_MAX_RULES,
            show_default=True,
            help="mimir: the most rules per group (the ruler's per-group limit).",
        ),
        click.option(
            "--partial-response-strategy",
            type=click.Choice(conventions.THANOS_PARTIAL_RESPONSE_STRATEGIES),
            default="abort",
            show_default=True,
            help="thanos: what a rule group does when a store answers partially.",
        ),
        click.option(
            "--alertmanager-config",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="alertmanager: your receivers file (default: _alertmanager.yaml beside "
            "the specs).",
        ),
    ]

    @wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        labels = kwargs.pop("operator_labels")
        bad = [k for k, _ in labels if not K8S_LABEL_KEY.match(k)]
        if bad:
            raise click.BadParameter(
                f"'{bad[0]}' is not a Kubernetes label key", param_hint="--operator-label"
            )
        fmt = FormatFlags(
            names=kwargs.pop("formats_"),
            namespace=kwargs.pop("namespace"),
            operator_name=kwargs.pop("operator_name"),
            operator_labels=labels,
            mimir_max_rules=kwargs.pop("mimir_max_rules"),
            partial_response_strategy=kwargs.pop("partial_response_strategy"),
            alertmanager_config=kwargs.pop("alertmanager_config"),
        )
        return func(fmt=fmt, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
