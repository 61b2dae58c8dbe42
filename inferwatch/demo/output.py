"""The demo's output folder, refreshed while it runs: index.html and what it links to.

- `slo-status.txt` / `.json`: `inferwatch slo status` against the live Prometheus;
- `cost/cost-report-<week>.{html,md,csv}`: the weekly cost report (HTML, Markdown, FOCUS CSV) of
  the last full ISO week, which the backfilled history covers;
- `pages.html` / `pages.json`: every page the webhook receiver recorded (`pages.jsonl` holds
  every raw notification);
- `dashboards/`: previews of the dashboards rendered from the live Prometheus, where this build
  has the preview renderer (inferwatch.dashboards.preview);
- `index.html`: links to all of it, with the addresses of the live APIs.

Every file is written atomically, so a browser refreshing the folder never sees half a page.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from inferwatch.config import InferwatchConfig
from inferwatch.errors import InferwatchError
from inferwatch.fileio import write_all_atomic, write_atomic
from inferwatch.localstack.receiver import Page
from inferwatch.prom import reader_for
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.focus_csv import FocusIdentity
from inferwatch.slo.cost.model import CostReport
from inferwatch.slo.cost.render import publish_report
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.status import StatusRow, slo_status

log = logging.getLogger(__name__)


@dataclass
class PreviewOutcome:
    """What the dashboard previews came to: files written and panels left empty, or why there are none."""

    available: bool
    files: list[str] = field(default_factory=list)
    empty_panels: dict[str, list[str]] = field(default_factory=dict)
    unexpected_empty: list[str] = field(default_factory=list)
    note: str = ""


def render_dashboard_previews(
    prometheus_url: str,
    out_dir: Path,
    start: datetime,
    end: datetime,
    config: InferwatchConfig,
    scrape_interval_s: float,
) -> PreviewOutcome:
    """Dashboard previews from the live Prometheus, through inferwatch.dashboards.preview when this build has it."""
    try:
        from inferwatch.dashboards.preview import render_previews
    except ImportError as err:
        return PreviewOutcome(False, note=f"dashboard previews are unavailable in this build ({err})")
    result = render_previews(prometheus_url, out_dir, start, end, config=config, scrape_interval_s=scrape_interval_s)
    files = [str(p.relative_to(out_dir.parent)) for p in [result.index, *(d.png for d in result.dashboards)]]
    empty = {uid: [str(e) for e in panels] for uid, panels in result.empty_panels().items()}
    unexpected = [str(e) for e in result.unexpected_empty()]
    return PreviewOutcome(True, files=files, empty_panels=empty, unexpected_empty=unexpected)


@dataclass
class OutputState:
    """The latest results written to the output folder (what index.html shows)."""

    refreshed_at: float = 0.0
    slo_rows: list[StatusRow] = field(default_factory=list)
    cost: CostReport | None = None
    cost_files: dict[str, str] = field(default_factory=dict)
    previews: PreviewOutcome | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class OutputFolder:
    """Writes and refreshes the demo's output folder."""

    out_dir: Path
    config: InferwatchConfig
    prometheus_url: str
    alertmanager_url: str
    live_start: datetime
    config_file: Path
    scrape_interval_s: float = 10.0
    state: OutputState = field(default_factory=OutputState)

    def __post_init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("inferwatch.demo", "templates"),
            autoescape=select_autoescape(["html", "j2"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def refresh(self, pages: Sequence[Page], now: datetime | None = None, previews: bool = True) -> OutputState:
        """Query the live stack and rewrite every file; a part that fails is named on the index page."""
        now = now or datetime.now(UTC)
        state = OutputState(refreshed_at=now.timestamp())
        reader = reader_for(self.config)
        try:
            slos, _ = slos_from_specs(self.config.slos, "demo.yaml")
            state.slo_rows = slo_status(reader, slos, now)
            table = self.slo_status_text()
            write_all_atomic(
                {
                    self.out_dir / "slo-status.txt": table,
                    self.out_dir / "slo-status.json": json.dumps([r.to_json() for r in state.slo_rows], indent=2),
                }
            )
        except (InferwatchError, subprocess.SubprocessError) as err:
            state.problems.append(f"slo status: {err}")
        try:
            week = IsoWeek.last_full(now)
            report = collect_report(reader, week, self.config.pricing, settings=self.config.cost_report)
            who = FocusIdentity.of(self.config.pricing, self.config.cost_report)
            paths = publish_report(self.out_dir / "cost", report, who)
            state.cost = report
            state.cost_files = {k: str(p.relative_to(self.out_dir)) for k, p in paths.items()}
        except InferwatchError as err:
            state.problems.append(f"cost report: {err}")
        if previews:
            try:
                state.previews = render_dashboard_previews(
                    self.prometheus_url,
                    self.out_dir / "dashboards",
                    self.live_start,
                    now,
                    self.config,
                    self.scrape_interval_s,
                )  # fmt: skip
            except Exception as err:  # noqa: BLE001 - another team's renderer: report any failure on the page
                state.previews = PreviewOutcome(True, note=f"dashboard previews failed: {type(err).__name__}: {err}")
        elif self.state.previews is not None:
            state.previews = self.state.previews
        self.write_pages(pages)
        self.state = state
        self.write_index(pages)
        return state

    def slo_status_text(self) -> str:
        """What `inferwatch -c <demo config> slo status` prints against the live Prometheus."""
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "inferwatch",
                "-c",
                str(self.config_file),
                "--log-level",
                "warning",
                "slo",
                "status",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise subprocess.SubprocessError(f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return proc.stdout

    def write_pages(self, pages: Sequence[Page]) -> None:
        """pages.json and pages.html: every page received so far."""
        template = self._env.get_template("pages.html.j2")
        write_all_atomic(
            {
                self.out_dir / "pages.json": json.dumps([p.to_json() for p in pages], indent=2),
                self.out_dir / "pages.html": template.render(pages=pages, fmt_time=_fmt_time),
            }
        )

    def write_index(self, pages: Sequence[Page]) -> None:
        """index.html from the latest state."""
        template = self._env.get_template("index.html.j2")
        html = template.render(
            state=self.state,
            pages=pages,
            prometheus_url=self.prometheus_url,
            alertmanager_url=self.alertmanager_url,
            refreshed=_fmt_time(self.state.refreshed_at or time.time()),
            currency=self.config.pricing.currency,
            config_file=self.config_file,
            fmt_time=_fmt_time,
        )
        write_atomic(self.out_dir / "index.html", html)


def _fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
