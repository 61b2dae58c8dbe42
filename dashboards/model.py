"""The panel model the dashboards are written in: a panel is its queries, unit, thresholds and size.

Dashboards are data (rows of these panels) built by small functions from the configuration;
`inferwatch.dashboards.render` turns them into grafanalib objects and lays them out on the grid.
The preview and the validator read the same model back from the generated JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PanelKind = Literal["timeseries", "stat", "table", "state-timeline"]
ThresholdStyle = Literal["off", "line", "area", "line+area", "dashed"]

# Colours by meaning, so "which way is good" reads the same on every panel.
GOOD = "green"
WARN = "orange"
BAD = "red"
NEUTRAL = "blue"


@dataclass(frozen=True)
class Query:
    """One PromQL target: its expression (Grafana variables allowed) and its legend."""

    expr: str
    legend: str
    instant: bool = False


@dataclass(frozen=True)
class Step:
    """One threshold step: from ``value`` up (None: the base step) the colour is ``color``."""

    value: float | None
    color: str


@dataclass(frozen=True)
class StateText:
    """A value mapping for state timelines and stats: ``value`` shows as ``text`` in ``color``."""

    value: int
    text: str
    color: str


@dataclass(frozen=True)
class Link:
    """A link on a panel (to another dashboard, a runbook, the weekly report)."""

    title: str
    url: str


@dataclass(frozen=True)
class ColumnLink:
    """A data link on a table column: clicking a cell opens ``url`` (Grafana `${__data.fields.x}` allowed)."""

    column: str
    title: str
    url: str


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows, how to read it, and when it is empty on purpose.

    ``empty_when`` names the condition under which the panel has no data by design (say, no GPU
    has reported an Xid); the preview lists it with that condition instead of as a failure.
    ``nan_text`` is what a NaN value shows as (the "not reported by this engine" markers).
    """

    kind: PanelKind
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    width: int = 8
    height: int = 8
    thresholds: tuple[Step, ...] = ()
    threshold_style: ThresholdStyle = "off"
    mappings: tuple[StateText, ...] = ()
    links: tuple[Link, ...] = ()
    column_links: tuple[ColumnLink, ...] = ()
    stacked: bool = False
    min: float | None = None
    max: float | None = None
    empty_when: str | None = None
    nan_text: str | None = None


@dataclass(frozen=True)
class Row:
    """A titled row of panels, laid out left to right and wrapped at the grid's 24 columns."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A dashboard variable: ``query`` is Grafana's `label_values(selector, label)` (or `prometheus`)."""

    name: str
    label: str
    query: str
    kind: Literal["datasource", "query"] = "query"


@dataclass(frozen=True)
class DashboardSpec:
    """One dashboard: file name stem (which is also its UID), title, variables, rows and links."""

    name: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    links: tuple[Link, ...] = field(default_factory=tuple)

    def panels(self) -> list[Panel]:
        """Every panel of every row, in order."""
        return [p for r in self.rows for p in r.panels]
