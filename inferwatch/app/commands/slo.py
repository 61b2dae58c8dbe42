"""`inferwatch slo`: check SLO definitions, compile them to rules, and show their status."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from inferwatch.app.context import AppContext, pass_app
from inferwatch.app.pipeline import build, generate_all
from inferwatch.config import HistogramBuckets
from inferwatch.config.durations import duration_seconds
from inferwatch.errors import ConfigError, FieldProblem, UsageError
from inferwatch.prom import reader_for
from inferwatch.slo.buckets import is_boundary, scraped_boundaries
from inferwatch.slo.generate import RULES_PATH
from inferwatch.slo.loader import load_slo_files, slos_from_specs
from inferwatch.slo.model import SLO, LatencySLI, SpecWarning
from inferwatch.slo.rules import rule_counts
from inferwatch.slo.status import StatusRow, require_data, slo_status

AREA = "slo"
# Longer than any retention a Prometheus keeps raw data for.
MAX_LOOKBACK_DAYS = 3650

log = logging.getLogger(__name__)


def _config_slos(app: AppContext) -> list[SLO]:
    slos, warnings = slos_from_specs(app.config.slos, app.config.source)
    _print_warnings(warnings)
    return slos


def _print_warnings(warnings: list[SpecWarning]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


def bucket_problems(
    slos: list[SLO],
    buckets: HistogramBuckets,
    scraped: dict[str, list[float]] | None = None,
    engines: Sequence[str] = ("vllm",),
) -> list[FieldProblem]:
    """Latency thresholds that are not a bucket boundary of their histogram: the configured ``buckets``
    of every engine in ``engines`` (each engine's defaults unless declared), or the boundaries every
    pod's histogram in Prometheus has (``scraped``)."""
    problems: list[FieldProblem] = []
    for slo in slos:
        if not isinstance(slo.sli, LatencySLI):
            continue
        kind = slo.sli.kind
        sources = (
            [(scraped[kind], "scraped by Prometheus")]
            if scraped is not None
            else [(list(buckets.boundaries(kind, e)), f"of {buckets.origin(kind, e)}") for e in engines]
        )
        for known, where in sources:
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
@click.option(
    "--at",
    "at_text",
    default=None,
    help="With --prometheus: read the buckets as of this time (unix seconds or ISO 8601; default now), "
    "for a Prometheus whose data is older than the lookback.",
)
@click.option(
    "--lookback",
    default="1d",
    show_default=True,
    help="With --prometheus: how far before --at a bucket series counts (a duration: 6h, 7d, 30d).",
)
@pass_app
def check_command(
    app: AppContext, files: tuple[Path, ...], prometheus_url: str | None, at_text: str | None, lookback: str
) -> None:
    """Validate SLO definitions (FILEs: inferwatch.yaml, SLO lists or OpenSLO v1; default: the config).

    Exits 2 naming file, SLO and field of every problem; writes nothing.
    """
    try:
        sensible = 0 < duration_seconds(lookback) <= MAX_LOOKBACK_DAYS * 86400
    except ValueError:
        sensible = False
    if not sensible:
        raise UsageError(f"--lookback {lookback!r}: use a duration from 1s to {MAX_LOOKBACK_DAYS}d, e.g. 6h, 1d or 30d")
    at = _parse_at(at_text)
    paths = list(files) or ([app.config_path] if app.config_path else [])
    if not paths:
        raise UsageError("no SLO file given and no inferwatch.yaml found")
    slos, warnings = load_slo_files(paths)
    _print_warnings(warnings)
    if not slos:
        raise ConfigError(
            ", ".join(str(p) for p in paths),
            [
                FieldProblem(
                    "",
                    "no SLO definitions found: expected an inferwatch.yaml with slos:, a list of SLOs, one SLO, "
                    "or OpenSLO v1 documents (apiVersion: openslo/v1, kind: SLO)",
                )
            ],
        )
    boundaries: dict[str, list[float]] | None = None
    if prometheus_url:
        # The config's authentication, TLS and headers, at the URL given.
        reader = reader_for(app.config, prometheus_url)
        kinds = sorted({s.sli.kind for s in slos if isinstance(s.sli, LatencySLI)})
        boundaries = {k: scraped_boundaries(reader, k, at, lookback) for k in kinds}
    problems = bucket_problems(slos, app.config.buckets, boundaries, app.config.engines)
    if problems:
        raise ConfigError(", ".join(str(p) for p in paths), problems)
    click.echo(f"{len(slos)} SLO(s) ok ({len(warnings)} warning(s))")


@slo.command(name="rules")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Validate and write the SLO artifacts under this repository root (DIR/{RULES_PATH}, its "
    "PrometheusRule and runbooks), as `inferwatch build --only slo`; default: print the rule file to stdout.",
)
@pass_app
def rules_command(app: AppContext, out: Path | None) -> None:
    """Compile the config's SLOs to multiwindow multi-burn-rate rules; print the rule count per SLO."""
    slos = _config_slos(app)
    for name, n in rule_counts(slos).items():
        click.echo(f"{name}: {n} rules", err=True)
    if out is None:
        rules = next(a for a in generate_all(app.config, only=(AREA,)) if a.path == RULES_PATH)
        click.echo(rules.content, nl=False)
        return
    written = build(app.config, out, only=(AREA,))
    click.echo(f"wrote {len(written)} file(s) under {out}", err=True)


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


def _fmt(v: float | None, spec: str, suffix: str = "") -> str:
    return "—" if v is None else format(v, spec) + suffix


# Marks a figure whose window holds a gap in the SLO's recording (explained under the table).
GAP_MARK = "*"


def _table(rows: list[StatusRow]) -> Table:
    table = Table(title="SLO status")
    columns = ("SLO", "group", "objective", "window", "covered", "SLI", "budget left", "burn (long)", "burn (6h-class)")
    for col in (*columns, "state"):
        table.add_column(col)
    for r in rows:
        gap = set(r.coverage.on_gap)

        def mark(name: str, text: str, gap: set[str] = gap) -> str:
            return text + GAP_MARK if name in gap and text != "—" else text

        table.add_row(
            r.slo,
            ",".join(f"{k}={v}" for k, v in r.group.items()) or "—",
            f"{r.objective_percent:g}%",
            r.window,
            _fmt(r.coverage.covered_percent, ".1f", "%"),
            mark("sli_percent", _fmt(r.sli_percent, ".3f", "%")),
            mark("budget_remaining_percent", _fmt(r.budget_remaining_percent, ".1f", "%")),
            f"{mark('burn_rate_page_long', _fmt(r.burn_rate_page_long, '.2f'))} ({r.burn_windows[0]})",
            f"{mark('burn_rate_page_slow', _fmt(r.burn_rate_page_slow, '.2f'))} ({r.burn_windows[1]})",
            r.state,
        )
    if any(r.coverage.on_gap for r in rows):
        table.caption = (
            f"{GAP_MARK} rests on a gap in the SLO's recording (covered < 100 % of its window): the gap's events "
            "are counted from the counters, but a pod restarted inside it lost its events before the restart."
        )
    return table


def _cluster_slos(kubeconfig: Path | None, context: str | None, namespace: str | None) -> list[SLO]:
    """The InferenceSLOs of the cluster (named <namespace>/<name>); those that do not validate are skipped
    with a warning naming the field, as the controller's Ready condition does."""
    from inferwatch.app.controller.kube import KubernetesCluster
    from inferwatch.app.controller.model import InferenceSLO, compile_inference_slo

    cluster = KubernetesCluster.connect(str(kubeconfig) if kubeconfig else None, context)
    objs, _ = cluster.list_slos(namespace)
    slos: list[SLO] = []
    for obj in objs:
        item = InferenceSLO.from_object(obj)
        compiled = compile_inference_slo(item)
        if compiled.slo is None:
            problems = "; ".join(str(p) for p in compiled.problems)
            click.echo(f"warning: InferenceSLO {item.key} skipped: {problems}", err=True)
            continue
        slos.append(compiled.slo)
    return slos


@slo.command(name="status")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--at", "at_text", default=None, help="Evaluate at this time (unix seconds or ISO 8601; default now).")
@click.option(
    "--inference-slos",
    "with_cluster",
    is_flag=True,
    help="Also the InferenceSLO objects of the cluster (named <namespace>/<name>), beside the config's SLOs.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --inference-slos: the kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", default=None, help="With --inference-slos: the kubeconfig context.")
@click.option("--namespace", "-n", default=None, help="With --inference-slos: this namespace only (default: all).")
@pass_app
def status_command(
    app: AppContext,
    output: str,
    at_text: str | None,
    with_cluster: bool,
    kubeconfig: Path | None,
    context: str | None,
    namespace: str | None,
) -> None:
    """One row per SLO series: objective, share of the window recorded, SLI over the window, budget left,
    burn rates, state; figures resting on a gap in the recording are marked."""
    slos = _config_slos(app)
    if with_cluster:
        slos += _cluster_slos(kubeconfig, context, namespace)
    at = _parse_at(at_text)
    reader = reader_for(app.config)
    rows = slo_status(reader, slos, at)
    if output == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        Console(width=160).print(_table(rows))
    require_data(rows)
