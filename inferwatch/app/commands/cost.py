"""`inferwatch cost report`: the weekly cost report (suitable for a Kubernetes CronJob).

Exit statuses: 0 written, 2 bad arguments/config, 3 Prometheus unreachable (or not answering as
Prometheus), 4 no data for the week, 6 the FOCUS CSV broke its version's rules (an inferwatch bug;
nothing written), 1 the webhook failed (the files are written by then). The report set (HTML,
Markdown, FOCUS CSV and its metadata) is replaced all or nothing (inferwatch.slo.cost.publish).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click
import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from inferwatch.app.context import AppContext, pass_app
from inferwatch.config import FocusVersion
from inferwatch.errors import InferwatchError
from inferwatch.prom import reader_for
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.focus_csv import FocusIdentity
from inferwatch.slo.cost.layout import money
from inferwatch.slo.cost.model import WEEK_HOURS, format_hours
from inferwatch.slo.cost.queries import query_count
from inferwatch.slo.cost.render import publish_report
from inferwatch.slo.cost.slack import slack_summary
from inferwatch.slo.cost.week import IsoWeek

log = logging.getLogger(__name__)


class WebhookError(InferwatchError):
    """The webhook did not accept the summary (the report files are already written); exit status 1."""


def post_webhook(url: str, payload: dict[str, str], timeout_s: float) -> None:
    """POST the Slack-compatible summary; raises WebhookError unless it answers 2xx."""
    try:
        resp = requests.post(url, json=payload, timeout=timeout_s)
    except requests.RequestException as err:
        raise WebhookError(f"webhook {url} did not answer: {type(err).__name__}") from None
    if not 200 <= resp.status_code < 300:
        raise WebhookError(f"webhook {url} answered HTTP {resp.status_code}: {resp.text[:200]}")
    log.info("posted cost summary to webhook %s", url)


@click.group(name="cost")
def cost() -> None:
    """Cost per token per namespace: the weekly report."""


@cost.command(name="report")
@click.option(
    "--week",
    "week_text",
    default=None,
    help="ISO week, e.g. 2026-W47, or current (the week so far); default: the last full week, UTC.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("cost-reports"),
    show_default=True,
    help="Folder the report set cost-report-<week>/ (HTML, Markdown, FOCUS CSV and metadata) is written to.",
)
@click.option("--webhook", default=None, help="POST a short Slack-compatible summary to this URL.")
@click.option(
    "--focus-version",
    type=click.Choice([str(v) for v in FocusVersion]),
    default=None,
    help="FinOps FOCUS version of the CSV (default: cost_report.focus_version, 1.3).",
)
@pass_app
def report_command(
    app: AppContext, week_text: str | None, out: Path, webhook: str | None, focus_version: str | None
) -> None:
    """Query Prometheus for one week's cost (and the week before) and write the HTML, Markdown and FOCUS CSV report."""
    config = app.config
    now = datetime.now(UTC)
    if week_text == "current":
        week = IsoWeek.containing(now)
    else:
        week = IsoWeek.parse(week_text) if week_text else IsoWeek.last_full(now)
    reader = reader_for(config)
    console = Console(stderr=True)
    with Progress(
        TextColumn("querying Prometheus"),
        BarColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=query_count())

        def step(key: str) -> None:
            progress.update(task, description=key, advance=1)

        report = collect_report(reader, week, config.pricing, step, settings=config.cost_report)
    who = FocusIdentity.of(config.pricing, config.cost_report, focus_version)
    paths = publish_report(out, report, who)
    coverage = (
        ""
        if report.full_coverage
        else f" (partial week: data for {format_hours(report.observed_hours)} of {WEEK_HOURS} hours"
        + (", with gaps in the recording" if report.gap_hours else "")
        + ")"
    )
    click.echo(
        f"{week.label}: {money(report.total_cost)} {report.currency} over {len(report.namespaces)} namespace(s) "
        f"in {len(report.clusters)} cluster(s){coverage}; FOCUS {who.version}; "
        f"wrote {', '.join(str(p) for p in paths.values())}"
    )
    if webhook:
        post_webhook(webhook, slack_summary(report), config.prometheus.timeout_s)
