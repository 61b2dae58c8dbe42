"""What a dashboard preview collects and returns: each panel's queried series, the empty panels, the
previews of every dashboard (inferwatch.dashboards.preview fills them; draw and page read them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inferwatch.dashboards.model import Panel


@dataclass(frozen=True)
class SeriesData:
    """One series a target returned: its legend (Grafana's legendFormat applied), labels and points."""

    legend: str
    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class PanelData:
    """What one panel's queries returned (``error`` when Prometheus rejected a query)."""

    panel: Panel
    json: dict[str, Any]
    series: tuple[SeriesData, ...]
    error: str | None = None

    @property
    def empty(self) -> bool:
        """No target returned a single finite point."""
        return not any(any(math.isfinite(v) for _, v in s.points) for s in self.series)


@dataclass(frozen=True)
class EmptyPanel:
    """A panel that returned no data: which, and (when empty by design) under what condition."""

    dashboard: str
    panel_id: int
    title: str
    by_design: str | None
    error: str | None = None

    def __str__(self) -> str:
        why = f" (empty by design: {self.by_design})" if self.by_design else ""
        err = f" (query rejected: {self.error})" if self.error else ""
        return f"{self.dashboard} / {self.title}{why}{err}"


@dataclass(frozen=True)
class DashboardPreview:
    """One dashboard's preview: its PNG, how many panels it has and which were empty."""

    uid: str
    title: str
    png: Path
    panels: int
    empty: tuple[EmptyPanel, ...]
    variables: dict[str, str] = field(default_factory=dict)
    data: tuple[PanelData, ...] = ()

    def panel(self, title: str) -> PanelData:
        """The queried data of the (first) panel titled ``title``; KeyError when there is none."""
        for d in self.data:
            if d.panel.title == title:
                return d
        raise KeyError(f"{self.title} has no panel {title!r}")


@dataclass(frozen=True)
class PreviewResult:
    """Every dashboard's preview, the HTML index, and the empty panels per dashboard."""

    out_dir: Path
    index: Path
    start: datetime
    end: datetime
    dashboards: tuple[DashboardPreview, ...]

    def empty_panels(self) -> dict[str, list[EmptyPanel]]:
        """Empty panels by dashboard UID (by design or not)."""
        return {d.uid: list(d.empty) for d in self.dashboards}

    def unexpected_empty(self) -> list[EmptyPanel]:
        """Empty panels that are not empty by design (or whose query was rejected)."""
        return [e for d in self.dashboards for e in d.empty if e.by_design is None or e.error]
