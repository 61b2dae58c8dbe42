"""`inferwatch demo up`: the whole stack on loopback, a story with an incident, and what it shows.

Exit statuses: 0 the demo ran its duration; 5 a required tool is not installed; 7 a port the
stack needs is in use; 8 the output folder is not writable; 9 a component exited or never became
ready; 2 bad options; 130 interrupted (Ctrl-C or SIGTERM) — every process is stopped either way.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import click
from rich.console import Console

from inferwatch.demo.config import DEFAULT_BASE_PORT, DEFAULT_DURATION_S, DemoSettings
from inferwatch.demo.run import run_demo
from inferwatch.demo.view import render
from inferwatch.errors import ExitCode

INTERRUPTED_EXIT = ExitCode.INTERRUPTED


@click.group(name="demo")
def demo() -> None:
    """The main job on a laptop: simulated vLLM + GPUs, Prometheus, Alertmanager, an incident that pages."""


@demo.command(name="up")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=60),
    default=DEFAULT_DURATION_S,
    show_default=True,
    help="Seconds of live traffic; the demo then stops by itself.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Output folder (index.html, SLO status, cost report, pages).",
)
@click.option(
    "--incident-start",
    "incident_start_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds into live traffic when the incident starts [default: a quarter of --duration].",
)
@click.option(
    "--incident-end",
    "incident_end_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds into live traffic when the incident ends [default: 85 % of --duration].",
)
@click.option(
    "--alert-for",
    default="2m",
    show_default=True,
    help="`for:` of VLLMTimeToFirstTokenHigh (thresholds.ttft_for) in the demo's config.",
)
@click.option(
    "--scrape-interval",
    "scrape_interval_s",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Prometheus scrape interval, seconds.",
)
@click.option(
    "--evaluation-interval",
    "evaluation_interval_s",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Prometheus rule evaluation interval, seconds.",
)
@click.option(
    "--refresh",
    "refresh_s",
    type=click.FloatRange(min=5),
    default=30.0,
    show_default=True,
    help="Seconds between refreshes of the output folder.",
)
@click.option(
    "--base-port",
    type=int,
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="First of the loopback ports the stack listens on (it uses the next ~45).",
)
@click.option("--live/--no-live", "live", default=None, help="Live terminal view [default: when stdout is a terminal].")
@click.option(
    "--screenshot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also save the final view as an SVG picture here.",
)
def up(
    duration_s: float,
    out_dir: Path,
    incident_start_s: float | None,
    incident_end_s: float | None,
    alert_for: str,
    scrape_interval_s: int,
    evaluation_interval_s: int,
    refresh_s: float,
    base_port: int,
    live: bool | None,
    screenshot: Path | None,
) -> None:
    """Start the stack, backfill a week of history, run traffic with an incident, then stop everything.

    Prints Prometheus's and Alertmanager's API addresses; the output folder's index.html links the
    dashboard previews, `slo status`, the weekly cost report and the pages received.

    Exit statuses: 0 done, 2 bad options, 5 a tool is missing, 7 a port is in use, 8 the output
    folder is not writable, 9 a component failed, 130 interrupted (everything is stopped).
    """
    # One line per request would drown the demo's own progress lines.
    # The demo's own steps are shown on the console; its modules' INFO lines would repeat them.
    for noisy in ("httpx", "httpcore", "inferwatch.demo", "inferwatch.localstack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Without a terminal (CI, a pipe) rich would wrap the summary at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    settings = DemoSettings(
        out_dir=out_dir,
        duration_s=duration_s,
        incident_start_s=incident_start_s,
        incident_end_s=incident_end_s,
        alert_for=alert_for,
        scrape_interval_s=scrape_interval_s,
        evaluation_interval_s=evaluation_interval_s,
        refresh_s=refresh_s,
        base_port=base_port,
        live_view=console.is_terminal if live is None else live,
    )
    try:
        result = run_demo(settings, console)
    except KeyboardInterrupt:  # before anything started, or during the clean-up's last message
        console.print("[yellow]interrupted[/]")
        sys.exit(INTERRUPTED_EXIT)
    if result.last_snapshot is not None:
        result.last_snapshot.pages = result.pages
        console.print(render(result.last_snapshot))
    if screenshot is not None and result.last_snapshot is not None:
        picture = Console(record=True, width=150, file=io.StringIO())
        picture.print(render(result.last_snapshot))
        picture.save_svg(str(screenshot), title="inferwatch demo up")
    pages = ", ".join(sorted({p.alertname for p in result.pages})) or "none"
    console.print(f"pages received: {len(result.pages)} ({pages})")
    console.print(f"every process the demo started is stopped; the output is in [cyan]{result.out_dir}[/] "
                  f"(open {result.out_dir / 'index.html'})")  # fmt: skip
    if result.interrupted:
        sys.exit(INTERRUPTED_EXIT)
