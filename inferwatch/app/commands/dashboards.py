"""`inferwatch dashboards …`: preview the generated dashboards against a Prometheus, without Grafana."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from inferwatch.app.context import AppContext, pass_app
from inferwatch.errors import NoDataError, UsageError
from inferwatch.extras import require

_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdw]))?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, option: str, now: datetime) -> datetime:
    """`now`, `now-6h` (s, m, h, d, w) or an ISO 8601 time (UTC when it names no zone)."""
    m = _RELATIVE.match(text.strip())
    if m:
        amount, unit = m.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)}) if amount else now
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r}: use now, now-<N><s|m|h|d|w> or an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _selections(pairs: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        if not sep or not name or not values:
            raise UsageError(f"--var {pair!r}: use NAME=VALUE[,VALUE…], e.g. --var namespace=team-a,team-b")
        out.setdefault(name, []).extend(v for v in values.split(",") if v)
    return out


@click.group(name="dashboards")
def dashboards() -> None:
    """Grafana dashboards: preview them against a Prometheus without Grafana."""


@dashboards.command(name="preview")
@click.option("--prometheus", "prometheus_url", required=True, help="Base URL of the Prometheus to query.")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for PNGs + HTML."
)
@click.option("--from", "from_", default="now-1h", show_default=True, help="Start: now-<N><unit> or ISO 8601.")
@click.option("--to", "to", default="now", show_default=True, help="End: now-<N><unit> or ISO 8601.")
@click.option("--var", "variables", multiple=True, help="Select variable values: NAME=V1[,V2] (default: All).")
@click.option("--dashboard", "only", multiple=True, help="Preview only this dashboard UID (repeatable).")
@click.option("--scrape-interval", default=15.0, show_default=True, help="Seconds; what $__rate_interval builds on.")
@click.option("--fail-on-empty", is_flag=True, help="Exit 4 when a panel not empty by design returned no data.")
@pass_app
def preview(
    app: AppContext,
    prometheus_url: str,
    out_dir: Path,
    from_: str,
    to: str,
    variables: tuple[str, ...],
    only: tuple[str, ...],
    scrape_interval: float,
    fail_on_empty: bool,
) -> None:
    """Run every panel's queries, draw each dashboard to PNG, write index.html, list empty panels."""
    require("report", "`inferwatch dashboards preview`")
    from inferwatch.dashboards.preview import render_previews

    now = datetime.now(UTC)
    start, end = parse_time(from_, "--from", now), parse_time(to, "--to", now)
    if scrape_interval <= 0:
        raise UsageError("--scrape-interval must be positive")
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        result = render_previews(
            prometheus_url,
            out_dir,
            start,
            end,
            config=app.config,
            selected=_selections(variables),
            scrape_interval_s=scrape_interval,
            only=only,
            progress=progress,
        )
    for d in result.dashboards:
        console.print(f"[bold]{escape(d.title)}[/]: {d.panels} panels, {len(d.empty)} empty -> {escape(str(d.png))}")
        for e in d.empty:
            if e.by_design and not e.error:
                console.print(f"  [dim]empty by design: {escape(e.title)} ({escape(e.by_design)})[/]")
            else:
                why = f" (query rejected: {e.error})" if e.error else ""
                console.print(f"  [red]no data: {escape(e.title)}{escape(why)}[/]")
    click.echo(str(result.index))
    missing = result.unexpected_empty()
    if fail_on_empty and missing:
        raise NoDataError(f"{len(missing)} panel(s) returned no data: " + "; ".join(str(e) for e in missing))
