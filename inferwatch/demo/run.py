"""`inferwatch demo up` from start to finish: start the stack, backfill, run the story, stop everything.

The stack is stopped on every way out — the duration elapsed, Ctrl-C (SIGINT), SIGTERM, or an
error while starting — and the output folder is refreshed one last time before it is.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import yaml
from rich.console import Console
from rich.live import Live

from inferwatch.config import PrometheusSettings
from inferwatch.demo.config import DemoSettings, demo_config
from inferwatch.demo.output import OutputFolder
from inferwatch.demo.scenario import DEFAULT_SCENARIO, Scenario
from inferwatch.demo.stack import Stack
from inferwatch.demo.traffic import LoadGenerator, Timeline
from inferwatch.demo.view import NamespaceCost, Snapshot, read_alerts, read_costs, read_targets, render, safely
from inferwatch.fileio import write_atomic
from inferwatch.localstack.receiver import Page
from inferwatch.prom import PrometheusReader
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.status import StatusRow, slo_status
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)

VIEW_TICK_S = 2.0
SLOW_QUERIES_EVERY_S = 10.0
PREVIEWS_EVERY_S = 120.0


@dataclass
class DemoResult:
    """How the demo ended and what it left behind."""

    out_dir: Path
    interrupted: bool
    pages: list[Page] = field(default_factory=list)
    last_snapshot: Snapshot | None = None


class _Refresher:
    """Refreshes the output folder on a background thread every ``interval`` seconds."""

    def __init__(self, output: OutputFolder, stack: Stack, interval: float) -> None:
        self._output = output
        self._stack = stack
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="output-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # never started when a Ctrl-C came first
            self._thread.join(timeout=120)

    def _run(self) -> None:
        last_previews = 0.0
        while not self._stop.wait(self._interval):
            receiver = self._stack.receiver
            # Dashboard previews render every panel: at most every PREVIEWS_EVERY_S on a small machine.
            previews = time.monotonic() - last_previews >= PREVIEWS_EVERY_S
            try:
                self._output.refresh(receiver.pages() if receiver else [], previews=previews)
                if previews:
                    last_previews = time.monotonic()
            except Exception:  # a refresh failing must not end the demo; the next one retries
                log.exception("refreshing the output folder failed")


class _Terminated(BaseException):
    """SIGTERM arrived (a BaseException, so that no `except Exception` swallows it)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def _still_stopping(signum: int, frame: FrameType | None) -> None:
    log.warning("still stopping every process the demo started; please wait")


def run_demo(settings: DemoSettings, console: Console, scenario: Scenario = DEFAULT_SCENARIO) -> DemoResult:
    """Run the demo for ``settings.duration_s`` seconds of live traffic and stop everything it started."""
    settings.validate()
    config = demo_config(settings)
    out_dir = settings.out_dir.resolve()
    stack = Stack(settings, config, scenario, Toolbox.default(), out_dir)
    stack.preflight()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    result = DemoResult(out_dir, interrupted=False)
    generator: LoadGenerator | None = None
    refresher: _Refresher | None = None
    output: OutputFolder | None = None
    timeline: Timeline | None = None
    try:
        with console.status("starting the stack") as status:

            def progress(message: str) -> None:
                status.update(message)
                console.log(message)

            stack.start_models(progress)
            stack.build_history(progress)
            stack.start_monitoring(progress)
        config_file = stack.work_dir / "inferwatch.yaml"
        config_file.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        console.print(f"Prometheus API:   [cyan]{stack.prometheus_url}[/]")
        console.print(f"Alertmanager API: [cyan]{stack.alertmanager_url}[/]")
        console.print(f"Output folder:    [cyan]{out_dir}[/] (index.html, refreshed every {settings.refresh_s:g}s)")
        timeline = Timeline(time.time(), settings.incident_start, settings.incident_end)
        generator = LoadGenerator(scenario, stack.endpoints(), timeline)
        generator.start()
        output = OutputFolder(
            out_dir,
            config,
            stack.prometheus_url,
            stack.alertmanager_url,
            datetime.fromtimestamp(timeline.started_at, UTC),
            config_file,
            scrape_interval_s=float(settings.scrape_interval_s),
        )
        output.write_pages([])
        output.write_index([])
        refresher = _Refresher(output, stack, settings.refresh_s)
        refresher.start()
        result.last_snapshot = _run_story(stack, generator, timeline, settings, console)
    except (KeyboardInterrupt, _Terminated):
        result.interrupted = True
        console.print("[yellow]interrupted: stopping every process the demo started[/]")
    finally:
        # A second Ctrl-C (or a SIGTERM) must not cut the clean-up short and leave processes behind.
        previous_int = signal.signal(signal.SIGINT, _still_stopping)
        signal.signal(signal.SIGTERM, _still_stopping)
        if generator is not None:
            generator.stop()
        if refresher is not None:
            refresher.stop()
        if output is not None and stack.receiver is not None and stack.prometheus is not None:
            try:
                console.log("writing the output folder one last time")
                output.refresh(stack.receiver.pages())
                write_summary(out_dir / "status.json", stack, output, timeline, result.interrupted)
            except Exception:  # the stack is going away either way; say so and stop it
                log.exception("the last refresh of the output folder failed")
        if stack.receiver is not None:
            result.pages = stack.receiver.pages()
        stack.stop()
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous)
    return result


def write_summary(path: Path, stack: Stack, output: OutputFolder, timeline: Timeline | None, interrupted: bool) -> None:
    """status.json: how the run went, for scripts and tests (targets at the end, pages, SLOs, cost, previews)."""
    problems: list[str] = []
    targets = safely("targets", problems, lambda: read_targets(stack.prometheus_url), [])
    state = output.state
    doc = {
        "interrupted": interrupted,
        "started_at": timeline.started_at if timeline else None,
        "incident": [timeline.incident_start_s, timeline.incident_end_s] if timeline else None,
        "prometheus_url": stack.prometheus_url,
        "alertmanager_url": stack.alertmanager_url,
        "history": {
            "samples": stack.history_samples,
            "span": [t.isoformat() for t in stack.history_span] if stack.history_span else None,
        },
        "targets": [{"job": t.job, "instance": t.instance, "pod": t.pod, "health": t.health} for t in targets],
        "pages": [p.to_json() for p in (stack.receiver.pages() if stack.receiver else [])],
        "slo_status": [r.to_json() for r in state.slo_rows],
        "cost_report": None
        if state.cost is None
        else {
            "week": state.cost.week.label,
            "total_cost": float(state.cost.total_cost),
            "currency": state.cost.currency,
            "namespaces": {ns.namespace: float(ns.allocated_cost) for ns in state.cost.namespaces},
            "files": state.cost_files,
        },
        "previews": None
        if state.previews is None
        else {
            "available": state.previews.available,
            "files": state.previews.files,
            "empty_panels": state.previews.empty_panels,
            "unexpected_empty": state.previews.unexpected_empty,
            "note": state.previews.note,
        },
        "problems": state.problems + problems,
    }
    write_atomic(path, json.dumps(doc, indent=2))


def _run_story(
    stack: Stack, generator: LoadGenerator, timeline: Timeline, settings: DemoSettings, console: Console
) -> Snapshot:
    """Show the live view until the duration has elapsed; returns the last snapshot."""
    reader = PrometheusReader(PrometheusSettings(url=stack.prometheus_url, timeout_s=10, retries=0))
    slos, _ = slos_from_specs(stack.config.slos, "demo.yaml")
    slo_rows: list[StatusRow] = []
    costs: tuple[list[NamespaceCost], float | None] = ([], None)
    slow_at = 0.0
    history = "none"
    if stack.history_span is not None:
        a, b = stack.history_span
        history = f"{stack.history_samples:,} samples backfilled, {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC"

    def snapshot() -> Snapshot:
        nonlocal slow_at, slo_rows, costs
        problems: list[str] = []
        if time.monotonic() - slow_at > SLOW_QUERIES_EVERY_S:
            slo_rows = safely("SLO status", problems, lambda: slo_status(reader, slos), [])
            costs = safely("cost", problems, lambda: read_costs(reader), ([], None))
            slow_at = time.monotonic()
        return Snapshot(
            phase=timeline.phase(),
            elapsed_s=timeline.elapsed(),
            duration_s=settings.duration_s,
            incident=(settings.incident_start, settings.incident_end),
            prometheus_url=stack.prometheus_url,
            alertmanager_url=stack.alertmanager_url,
            out_dir=str(stack.out_dir),
            history=history,
            targets=safely("targets", problems, lambda: read_targets(stack.prometheus_url), []),
            alerts=safely("alerts", problems, lambda: read_alerts(stack.prometheus_url), []),
            pages=stack.receiver.pages() if stack.receiver else [],
            slo_rows=slo_rows,
            costs=costs[0],
            idle_per_hour=costs[1],
            currency=stack.config.pricing.currency,
            requests={pod: (s.sent, s.failed) for pod, s in generator.stats.items()},
            problems=problems,
        )

    last = snapshot()
    if settings.live_view:
        with Live(render(last), console=console, refresh_per_second=1, screen=False) as live:
            while timeline.elapsed() < settings.duration_s:
                time.sleep(VIEW_TICK_S)
                stack.check_alive()
                last = snapshot()
                live.update(render(last))
    else:
        phase = ""
        seen_pages = 0
        while timeline.elapsed() < settings.duration_s:
            time.sleep(VIEW_TICK_S)
            stack.check_alive()
            now_phase = timeline.phase()
            if now_phase != phase:
                console.log(f"phase: {now_phase} at {timeline.elapsed():.0f}s")
                phase = now_phase
            pages = stack.receiver.pages() if stack.receiver else []
            for p in pages[seen_pages:]:
                console.log(f"page received: {p.alertname} {p.labels}")
            seen_pages = len(pages)
        last = snapshot()
    return last
