"""Dashboards previewed without Grafana: every panel's queries run against a Prometheus, drawn on the grid.

`render_previews` substitutes the variables the way Grafana does (`$__rate_interval`,
`$__interval`, `$__range`, multi-value `$namespace` as `(a|b)`, "All" as `.*`), runs each
target as Grafana would (instant for stats and tables, a range query at `$__interval` steps
for time series and state timelines), draws each dashboard to a PNG and writes an HTML index.
Every panel that returned no data is listed; a panel empty by design carries its condition.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from inferwatch.config import InferwatchConfig
from inferwatch.dashboards import generate, variables
from inferwatch.dashboards.draw import draw_dashboard
from inferwatch.dashboards.model import DashboardSpec, Panel
from inferwatch.dashboards.page import write_index
from inferwatch.dashboards.render import to_json
from inferwatch.dashboards.results import DashboardPreview, EmptyPanel, PanelData, PreviewResult, SeriesData
from inferwatch.errors import UsageError
from inferwatch.prom import PrometheusReader, QueryError, RangeSeries, reader_for

log = logging.getLogger(__name__)

# Grafana asks for about one point per pixel; a 24-column dashboard is ~1200 px wide.
PIXELS_PER_COLUMN = 50


def format_legend(template: str, labels: Mapping[str, str]) -> str:
    """Grafana's legendFormat: `{{label}}` replaced by the series' label value (empty if absent)."""
    out = template
    while "{{" in out and "}}" in out:
        start = out.index("{{")
        end = out.index("}}", start)
        name = out[start + 2 : end].strip()
        out = out[:start] + labels.get(name, "") + out[end + 2 :]
    return " ".join(out.split()) or "value"


def _label_values(reader: PrometheusReader, query: str, values: Mapping[str, str], iv: variables.Interval,
                  end: datetime) -> list[str]:  # fmt: skip
    selector, label = variables.label_values_query(query)
    expr = variables.substitute(selector, values, iv)
    window = variables.duration(iv.range_s)
    found = reader.query(f"group by ({label}) (last_over_time({expr}[{window}]))", at=end)
    return sorted({s.labels[label] for s in found if s.labels.get(label)})


def resolve_variables(
    reader: PrometheusReader,
    dashboard: dict[str, Any],
    selected: Mapping[str, Sequence[str]],
    iv: variables.Interval,
    end: datetime,
) -> tuple[dict[str, str], dict[str, str]]:
    """(values to substitute, text to show) for every query variable, in dashboard order.

    A variable not in ``selected`` is "All" (its allValue `.*`); a selection becomes `(a|b)`.
    Raises UsageError for a selected name the dashboard does not have.
    """
    subst: dict[str, str] = {}
    shown: dict[str, str] = {}
    declared = [v for v in dashboard["templating"]["list"] if v.get("type") == "query"]
    for v in declared:
        name = v["name"]
        options = _label_values(reader, v["query"], subst, iv, end)
        chosen = list(selected.get(name, ()))
        if chosen:
            subst[name] = variables.regex_of(chosen)
            shown[name] = ", ".join(chosen)
        else:
            subst[name] = v.get("allValue") or variables.regex_of(options or [""])
            shown[name] = f"All ({', '.join(options) or 'none'})"
    return subst, shown


def _run_target(
    reader: PrometheusReader, target: dict[str, Any], expr: str, start: datetime, end: datetime, step_s: float
) -> list[SeriesData]:
    legend = str(target.get("legendFormat", ""))
    if target.get("instant"):
        return [
            SeriesData(format_legend(legend, s.labels), s.labels, [(end.timestamp(), s.value)])
            for s in reader.query(expr, at=end)
        ]
    series: list[RangeSeries] = reader.query_range(expr, start, end, step_s)
    return [SeriesData(format_legend(legend, s.labels), s.labels, s.points) for s in series]


def query_panel(
    reader: PrometheusReader,
    panel: Panel,
    panel_json: dict[str, Any],
    values: Mapping[str, str],
    start: datetime,
    end: datetime,
    scrape_interval_s: float,
) -> PanelData:
    """Run every target of one panel with the variables substituted; never raises for a rejected query."""
    width = int(panel_json.get("gridPos", {}).get("w", 24))
    iv = variables.intervals((end - start).total_seconds(), width * PIXELS_PER_COLUMN, scrape_interval_s)
    series: list[SeriesData] = []
    for target in panel_json.get("targets", []):
        expr = variables.substitute(target["expr"], values, iv)
        try:
            # Whole seconds, like the `$__interval` Grafana substitutes (Prometheus reads "1.5s" as no duration).
            series.extend(_run_target(reader, target, expr, start, end, float(math.ceil(iv.interval_s))))
        except QueryError as err:
            log.error("panel %r: query rejected: %s", panel.title, err)
            return PanelData(panel, panel_json, tuple(series), error=str(err))
    return PanelData(panel, panel_json, tuple(series))


def _pairs(spec: DashboardSpec, dashboard: dict[str, Any]) -> list[tuple[Panel, dict[str, Any]]]:
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    return list(zip(spec.panels(), panels, strict=True))


def render_previews(
    prometheus_url: str,
    out_dir: Path,
    start: datetime,
    end: datetime,
    *,
    config: InferwatchConfig | None = None,
    selected: Mapping[str, Sequence[str]] | None = None,
    scrape_interval_s: float = 15.0,
    only: Sequence[str] = (),
    progress: Progress | None = None,
) -> PreviewResult:
    """Query every panel of every dashboard, draw `<uid>.png` per dashboard and `index.html` in ``out_dir``.

    ``config`` is the configuration the dashboards are generated from (default: built-in
    defaults); ``selected`` picks variable values by name (absent: All); ``only`` limits the
    preview to these dashboard UIDs. Raises PrometheusUnavailableError when Prometheus does not
    answer, UsageError for an empty or inverted time range or an unknown dashboard.
    """
    if end <= start:
        raise UsageError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    config = config or InferwatchConfig()
    specs = [s for s in generate.specs(config) if not only or s.name in only]
    unknown = sorted(set(only) - {s.name for s in generate.specs(config)})
    if unknown:
        raise UsageError(f"unknown dashboard(s): {', '.join(unknown)}")
    if not prometheus_url.startswith(("http://", "https://")):
        raise UsageError(f"--prometheus {prometheus_url!r}: must start with http:// or https://")
    # The config's authentication, TLS and headers, at the URL given.
    reader = reader_for(config, prometheus_url)
    out_dir.mkdir(parents=True, exist_ok=True)
    previews: list[DashboardPreview] = []
    range_iv = variables.intervals((end - start).total_seconds(), 1200, scrape_interval_s)
    for spec in specs:
        dashboard = to_json(spec)
        pairs = _pairs(spec, dashboard)
        task = progress.add_task(f"querying {spec.title}", total=len(pairs)) if progress else None
        values, shown = resolve_variables(reader, dashboard, selected or {}, range_iv, end)
        data: list[PanelData] = []
        for panel, panel_json in pairs:
            data.append(query_panel(reader, panel, panel_json, values, start, end, scrape_interval_s))
            if progress is not None and task is not None:
                progress.advance(task)
        png = out_dir / f"{spec.name}.png"
        draw_dashboard(dashboard, data, shown, start, end, png)
        empty = tuple(
            EmptyPanel(spec.title, int(d.json["id"]), d.panel.title, d.panel.empty_when, d.error)
            for d in data
            if d.empty or d.error
        )
        previews.append(DashboardPreview(spec.name, spec.title, png, len(data), empty, shown, tuple(data)))
    index = write_index(out_dir, previews, start, end, prometheus_url)
    return PreviewResult(out_dir, index, start, end, tuple(previews))
