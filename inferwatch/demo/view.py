"""What the demo shows in the terminal: a live rich view of targets, alerts, pages, budgets and cost.

`collect` reads one `Snapshot` from the running stack (Prometheus's API, the pager, the load
generator); `render` turns a snapshot into a rich renderable. Both are separate so the final
summary and the README's picture are the same view as the live one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from inferwatch.conventions import cost as c
from inferwatch.errors import InferwatchError
from inferwatch.localstack.receiver import Page
from inferwatch.prom import PrometheusReader
from inferwatch.slo.cost.columns import sig_decimals
from inferwatch.slo.status import StatusRow

log = logging.getLogger(__name__)

_COST_PER_MTOK = (
    f"sum by (namespace) ({c.MODEL_ALLOCATED_COST_RATE})\n"
    f"/ (sum by (namespace) ({c.PROMPT_TOKENS_RATE}) + sum by (namespace) ({c.GENERATION_TOKENS_RATE}) > 0)\n"
    "* 1e6"
)
_COST_PER_HOUR = f"sum by (namespace) ({c.ALLOCATED_COST_RATE}) * 3600"
_IDLE_PER_HOUR = f"sum({c.GPU_IDLE_COST_RATE}) * 3600"


@dataclass(frozen=True)
class Target:
    """One scrape target as Prometheus sees it."""

    job: str
    instance: str
    pod: str
    health: str


@dataclass(frozen=True)
class Alert:
    """One alert Prometheus holds (pending or firing)."""

    name: str
    state: str
    severity: str
    where: str


@dataclass(frozen=True)
class NamespaceCost:
    """Live cost of one namespace."""

    namespace: str
    per_hour: float | None
    per_mtok: float | None


@dataclass
class Snapshot:
    """Everything the view shows at one moment."""

    phase: str
    elapsed_s: float
    duration_s: float
    incident: tuple[float, float]
    prometheus_url: str
    alertmanager_url: str
    out_dir: str
    history: str
    targets: list[Target] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    slo_rows: list[StatusRow] = field(default_factory=list)
    costs: list[NamespaceCost] = field(default_factory=list)
    idle_per_hour: float | None = None
    currency: str = "USD"
    requests: dict[str, tuple[int, int]] = field(default_factory=dict)  # pod -> (sent, failed)
    problems: list[str] = field(default_factory=list)


def read_targets(prometheus_url: str) -> list[Target]:
    """Every active target with its health."""
    data = httpx.get(prometheus_url + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    out = []
    for t in data:
        labels = t.get("labels", {})
        pod = f"{labels.get('namespace', '')}/{labels.get('pod', '')}" if "pod" in labels else labels.get("node", "")
        if "engine" in labels:
            pod += f" rank {labels['engine']}"
        out.append(Target(labels.get("job", ""), labels.get("instance", ""), pod, str(t.get("health", ""))))
    return sorted(out, key=lambda t: (t.job, t.instance))


def read_alerts(prometheus_url: str) -> list[Alert]:
    """Every pending or firing alert."""
    data = httpx.get(prometheus_url + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    out = []
    for a in data:
        labels: dict[str, Any] = a.get("labels", {})
        where = ", ".join(
            f"{k}={labels[k]}" for k in ("namespace", "model_name", "slo", "pod", "gpu_uuid") if labels.get(k)
        )
        out.append(Alert(str(labels.get("alertname", "")), str(a.get("state", "")), str(labels.get("severity", "")),
                         where))  # fmt: skip
    return sorted(out, key=lambda a: (a.state != "firing", a.name, a.where))


def read_costs(reader: PrometheusReader) -> tuple[list[NamespaceCost], float | None]:
    """Live $/hour and $ per million tokens per namespace, and the idle GPUs' $/hour."""
    per_hour = {s.labels.get("namespace", ""): s.value for s in reader.query(_COST_PER_HOUR)}
    per_mtok = {s.labels.get("namespace", ""): s.value for s in reader.query(_COST_PER_MTOK)}
    idle = reader.query(_IDLE_PER_HOUR)

    def finite(v: float | None) -> float | None:
        return v if v is not None and math.isfinite(v) else None

    rows = [
        NamespaceCost(ns, finite(per_hour.get(ns)), finite(per_mtok.get(ns)))
        for ns in sorted(set(per_hour) | set(per_mtok))
    ]
    return rows, finite(idle[0].value) if idle else None


def _fmt_s(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def _money(v: float | None, currency: str, *, significant: bool = False) -> str:
    """Cents for amounts; ``significant`` keeps three significant digits (the report's $/1M tokens rule)."""
    if v is None:
        return "—"
    decimals = sig_decimals(v) if significant else 2
    return f"{v:,.{decimals}f} {currency}"


def _header(s: Snapshot) -> RenderableType:
    start, end = s.incident
    phase_style = {"quiet": "green", "incident": "bold red", "recovery": "yellow"}.get(s.phase, "white")
    story = (
        f"quiet until {_fmt_s(start)}, incident (long prompts to team-b/search-0) until {_fmt_s(end)}, then recovery"
    )
    text = Text.assemble(
        ("inferwatch demo  ", "bold"),
        (f"{s.phase.upper()}", phase_style),
        f"  {_fmt_s(s.elapsed_s)} / {_fmt_s(s.duration_s)}   ",
        (story, "dim"),
        "\nPrometheus API ",
        (s.prometheus_url, "cyan"),
        "   Alertmanager API ",
        (s.alertmanager_url, "cyan"),
        "   output ",
        (s.out_dir, "cyan"),
        "\nhistory: ",
        (s.history, "dim"),
        "\nGPUs are SIMULATED (no NVML on this machine); the models are llm-d-inference-sim processes",
    )
    return text


def _targets(s: Snapshot) -> Table:
    t = Table(title="Targets", expand=True)
    t.add_column("job")
    t.add_column("instance")
    t.add_column("pod / node")
    t.add_column("health")
    for x in s.targets:
        style = "green" if x.health == "up" else "red"
        t.add_row(x.job, x.instance, escape(x.pod), Text(x.health, style=style))
    return t


def _alerts(s: Snapshot) -> Table:
    t = Table(title="Alerts (Prometheus)", expand=True)
    t.add_column("alert")
    t.add_column("state")
    t.add_column("severity")
    t.add_column("where")
    for a in s.alerts:
        style = "bold red" if a.state == "firing" else "yellow"
        t.add_row(escape(a.name), Text(a.state, style=style), a.severity, escape(a.where))
    if not s.alerts:
        t.add_row(Text("none", style="dim"), "", "", "")
    return t


def _pages(s: Snapshot) -> Table:
    t = Table(title="Pages received (webhook receiver)", expand=True)
    t.add_column("at")
    t.add_column("alert")
    t.add_column("summary")
    for p in s.pages:
        t.add_row(time.strftime("%H:%M:%S", time.localtime(p.received_at)), escape(p.alertname), escape(p.summary))
    if not s.pages:
        t.add_row(Text("none yet", style="dim"), "", "")
    return t


def _slos(s: Snapshot) -> Table:
    t = Table(title="SLOs (7-day window)", expand=True)
    t.add_column("SLO")
    t.add_column("namespace")
    t.add_column("budget left", justify="right")
    t.add_column("burn (14m)", justify="right")
    t.add_column("state")
    for r in s.slo_rows:
        budget = "—" if r.budget_remaining_percent is None else f"{r.budget_remaining_percent:.1f}%"
        burn = "—" if r.burn_rate_page_long is None else f"{r.burn_rate_page_long:.1f}x"
        style = {"page": "bold red", "ticket": "yellow", "ok": "green"}.get(r.state, "dim")
        t.add_row(r.slo, escape(r.group.get("namespace", "")), budget, burn, Text(r.state, style=style))
    return t


def _costs(s: Snapshot) -> Table:
    t = Table(title="Cost (live)", expand=True)
    t.add_column("namespace")
    t.add_column("held / hour", justify="right")
    t.add_column("per 1M tokens", justify="right")
    for x in s.costs:
        t.add_row(escape(x.namespace), _money(x.per_hour, s.currency), _money(x.per_mtok, s.currency, significant=True))
    t.add_row(Text("(idle GPUs)", style="dim"), _money(s.idle_per_hour, s.currency), "")
    return t


def _traffic(s: Snapshot) -> Table:
    t = Table(title="Load generator", expand=True)
    t.add_column("pod")
    t.add_column("requests", justify="right")
    t.add_column("failed", justify="right")
    for pod, (sent, failed) in sorted(s.requests.items()):
        t.add_row(pod, f"{sent:,}", f"{failed:,}")
    return t


def render(s: Snapshot) -> RenderableType:
    """The whole view for one snapshot."""
    top = Table.grid(expand=True)
    top.add_column(ratio=1)
    top.add_column(ratio=1)
    top.add_row(_targets(s), Group(_alerts(s), _pages(s)))
    bottom = Table.grid(expand=True)
    bottom.add_column(ratio=5)
    bottom.add_column(ratio=4)
    bottom.add_column(ratio=3)
    bottom.add_row(_slos(s), _costs(s), _traffic(s))
    parts: list[RenderableType] = [_header(s), top, bottom]
    if s.problems:
        parts.append(Text("\n".join(s.problems), style="yellow"))
    return Panel(Group(*parts), title="inferwatch demo up", border_style="blue")


def safely(what: str, problems: list[str], fn: Any, default: Any) -> Any:
    """``fn()``, or ``default`` with a line in ``problems`` when Prometheus cannot answer yet."""
    try:
        return fn()
    except (httpx.HTTPError, InferwatchError, KeyError, ValueError) as err:
        problems.append(f"{what}: {type(err).__name__}: {err}"[:200])
        return default
