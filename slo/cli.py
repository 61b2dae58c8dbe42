"""`inferwatch slo`: check SLO definitions, compile them to rules, and show their status."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import click
from inferwatch.slo.buckets import VLLM_DEFAULT_BUCKETS, is_boundary, scraped_boundaries
from inferwatch.slo.generate import RULES_FILE_NAME, rules_header
from inferwatch.slo.loader import load_slo_files, slos_from_specs
from inferwatch.slo.model import SLO, LatencySLI, SpecWarning
from inferwatch.slo.rules import rule_counts, slo_rule_file
from inferwatch.slo.status import StatusRow, require_data, slo_status
from rich.console import Console
from rich.table import Table

from inferwatch.cli import AppContext, pass_app
from inferwatch.config import PrometheusSettings
from inferwatch.errors import ConfigError, FieldProblem, UsageError
from inferwatch.fileio import write_atomic
from inferwatch.prom import PrometheusReader
from inferwatch.rules import to_prometheus_yaml

log = logging.getLogger(__name__)


def _config_slos(app: AppContext) -> list[SLO]:
    slos, warnings = slos_from_specs(app.config.slos, str(app.config_path or "<defaults>"))
    _print_warnings(warnings)
    return slos


def _print_warnings(warnings: list[SpecWarning]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def bucket_problems(slos: list[SLO], boundaries: dict[str, list[float]] | None = None) -> list[FieldProblem]:
    """Latency thresholds that are not a bucket boundary of their histogram (vLLM defaults or ``boundaries``)."""
    problems: list[FieldProblem] = []
    for slo in slos:
        if not isinstance(slo.sli, LatencySLI):
            continue
        kind = slo.sli.kind
        known = boundaries[kind] if boundaries is not None else list(VLLM_DEFAULT_BUCKETS[kind])
        where = "scraped by Prometheus" if boundaries is not None else "of vLLM's default buckets"
        if not known:
            problems.append(
                FieldProblem(
                    f"{slo.source}: SLO {slo.name!r}: sli.kind", f"Prometheus holds no {kind} histogram buckets"
                )
            )
        elif not is_boundary(slo.sli.threshold, known):
            problems.append(
                FieldProblem(
                    f"{slo.source}: SLO {slo.name!r}: sli.threshold_seconds",
                    f"{slo.sli.threshold:g} is not a bucket boundary {where} for {kind} "
                    f"({', '.join(f'{b:g}' for b in known)})",
                )
            )
    return problems


@click.group(name="slo")
def slo() -> None:
    """SLOs: validate definitions, generate burn-rate rules, show error budgets."""


@slo.command(name="check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--prometheus", "prometheus_url", default=None, help="Check thresholds against the buckets this Prometheus holds."
)
@pass_app
def check_command(app: AppContext, files: tuple[Path, ...], prometheus_url: str | None) -> None:
    """Validate SLO definitions (FILEs: inferwatch.yaml, SLO lists or OpenSLO v1; default: the config).

    Exits 2 naming file, SLO and field of every problem; writes nothing.
    """
    paths = list(files) or ([app.config_path] if app.config_path else [])
    if not paths:
        raise UsageError("no SLO file given and no inferwatch.yaml found")
    slos, warnings = load_slo_files(paths)
    _print_warnings(warnings)
    boundaries: dict[str, list[float]] | None = None
    if prometheus_url:
        reader = PrometheusReader(PrometheusSettings(url=prometheus_url))
        kinds = sorted({s.sli.kind for s in slos if isinstance(s.sli, LatencySLI)})
        boundaries = {k: scraped_boundaries(reader, k) for k in kinds}
    problems = bucket_problems(slos, boundaries)
    if problems:
        raise ConfigError(", ".join(str(p) for p in paths), problems)
    click.echo(f"{len(slos)} SLO(s) ok ({len(warnings)} warning(s))")


@slo.command(name="rules")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Write DIR/{RULES_FILE_NAME} (default: print to stdout).",
)
@pass_app
def rules_command(app: AppContext, out: Path | None) -> None:
    """Compile the config's SLOs to multiwindow multi-burn-rate rules; print the rule count per SLO."""
    slos = _config_slos(app)
    problems = bucket_problems(slos)
    if problems:
        raise ConfigError(str(app.config_path or "<defaults>"), problems)
    text = to_prometheus_yaml(slo_rule_file(slos), rules_header(str(app.config_path or "inferwatch.yaml")))
    for name, n in rule_counts(slos).items():
        click.echo(f"{name}: {n} rules", err=True)
    if out is None:
        click.echo(text, nl=False)
        return
    write_atomic(out / RULES_FILE_NAME, text)
    click.echo(f"wrote {out / RULES_FILE_NAME}", err=True)


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--at {value!r}: use unix seconds or ISO 8601 (2026-01-31T12:00:00Z)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _table(rows: list[StatusRow]) -> Table:
    table = Table(title="SLO status")
    for col in ("SLO", "group", "objective", "window", "SLI", "budget left", "burn (long)", "burn (6h-class)", "state"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.slo,
            ",".join(f"{k}={v}" for k, v in r.group.items()) or "—",
            f"{r.objective_percent:g}%",
            r.window,
            _fmt(r.sli_percent, ".3f") + ("%" if r.sli_percent is not None else ""),
            _fmt(r.budget_remaining_percent, ".1f") + ("%" if r.budget_remaining_percent is not None else ""),
            f"{_fmt(r.burn_rate_page_long, '.2f')} ({r.burn_windows[0]})",
            f"{_fmt(r.burn_rate_page_slow, '.2f')} ({r.burn_windows[1]})",
            r.state,
        )
    return table


@slo.command(name="status")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--at", "at_text", default=None, help="Evaluate at this time (unix seconds or ISO 8601; default now).")
@pass_app
def status_command(app: AppContext, output: str, at_text: str | None) -> None:
    """One row per SLO series: objective, SLI over the window, budget left, burn rates, state."""
    slos = _config_slos(app)
    at = _parse_at(at_text)
    reader = PrometheusReader(app.config.prometheus)
    rows = slo_status(reader, slos, at)
    if output == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        Console(width=160).print(_table(rows))
    require_data(rows)
