"""A DashboardSpec -> grafanalib objects laid out on Grafana's 24-column grid -> dashboard JSON.

Each panel kind maps to the grafanalib class that emits Grafana's current panel type; every
target reads the `$datasource` variable; the grid is filled row by row, left to right, so
panels never overlap. The JSON goes through `modernize` (the one documented post-processing
step) and is written with sorted keys, so the committed file is stable.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from inferwatch.dashboards.model import DashboardSpec, Link, Panel, Row, Variable
from inferwatch.dashboards.modernize import modernize

GRID_COLUMNS = 24
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Every inferwatch dashboard carries this tag; the dashboards' link menu lists them by it.
TAG = "inferwatch"
_REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LEGEND_CALCS = ["lastNotNull", "max"]


def _thresholds(panel: Panel) -> list[g.Threshold]:
    steps = panel.thresholds or ()
    return [g.Threshold(s.color, i, float(s.value or 0.0)) for i, s in enumerate(steps)]


def _mappings(panel: Panel) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if panel.mappings:
        options = {str(m.value): {"text": m.text, "color": m.color, "index": i} for i, m in enumerate(panel.mappings)}
        out.append({"type": "value", "options": options})
    if panel.nan_text:
        out.append(
            {
                "type": "special",
                "options": {"match": "nan", "result": {"text": panel.nan_text, "index": len(panel.mappings)}},
            }
        )
    return out


def _link(link: Link, new_tab: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = g.DashboardLink(
        type="link", title=link.title, uri=link.url, keepTime=False, targetBlank=new_tab
    ).to_json_data()
    return data


def _targets(panel: Panel) -> list[g.Target]:
    fmt = g.TABLE_TARGET_FORMAT if panel.kind == "table" else g.TIME_SERIES_TARGET_FORMAT
    return [
        g.Target(
            expr=q.expr,
            legendFormat=q.legend,
            refId=_REF_IDS[i],
            instant=q.instant or panel.kind in ("stat", "table"),
            datasource=DATASOURCE,
            format=fmt,
        )
        for i, q in enumerate(panel.queries)
    ]


def _min_max(panel: Panel) -> dict[str, Any]:
    defaults = {k: v for k, v in (("min", panel.min), ("max", panel.max)) if v is not None}
    return {"fieldConfig": {"defaults": defaults}} if defaults else {}


def _panel(panel: Panel, pos: g.GridPos) -> g.Panel:
    common: dict[str, Any] = {
        "title": panel.title,
        "description": panel.description + (f" Empty when {panel.empty_when}." if panel.empty_when else ""),
        "dataSource": DATASOURCE,
        "targets": _targets(panel),
        "gridPos": pos,
        "links": [_link(link) for link in panel.links],
        "thresholds": _thresholds(panel),
        # Grafana's default (the panel's width in pixels) beats grafanalib's fixed 100.
        "maxDataPoints": None,
    }
    extra = _min_max(panel)
    if panel.kind == "timeseries":
        return g.TimeSeries(
            **common,
            unit=panel.unit,
            legendDisplayMode="list",
            legendCalcs=list(_LEGEND_CALCS),
            thresholdsStyleMode=panel.threshold_style,
            stacking={"mode": "normal", "group": "A"} if panel.stacked else {},
            fillOpacity=25 if panel.stacked or "area" in panel.threshold_style else 0,
            mappings=_mappings(panel),
            tooltipMode="multi",
            extraJson=extra or None,
        )
    if panel.kind == "stat":
        return g.Stat(
            **common,
            format=panel.unit,
            reduceCalc="lastNotNull",
            graphMode="none",
            colorMode="value",
            mappings=_mappings(panel),
            noValue="No traffic",
            extraJson=extra or None,
        )
    if panel.kind == "table":
        # Data links on every cell: `${__data.fields.x}` is the clicked line's value of column x.
        cell_links = [_link(Link(cl.title, cl.url), new_tab=False) for cl in panel.column_links]
        if cell_links:
            extra = {
                "fieldConfig": {"defaults": {**extra.get("fieldConfig", {}).get("defaults", {}), "links": cell_links}}
            }
        return g.Table(
            **common,
            unit=panel.unit,
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            ],
            extraJson=extra or None,
        )
    # grafanalib's StateTimeline has no unit field: the unit goes in through extraJson.
    defaults = {**extra.get("fieldConfig", {}).get("defaults", {}), "unit": panel.unit}
    return g.StateTimeline(**common, mappings=_mappings(panel), extraJson={"fieldConfig": {"defaults": defaults}})


def _layout(rows: tuple[Row, ...]) -> list[g.Panel]:
    """Rows and their panels with grid positions: left to right, wrapping at 24 columns."""
    out: list[g.Panel] = []
    y = 0
    for row in rows:
        out.append(g.RowPanel(title=row.title, gridPos=g.GridPos(h=1, w=GRID_COLUMNS, x=0, y=y)))
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_COLUMNS:
                y, x, line_height = y + line_height, 0, 0
            out.append(_panel(panel, g.GridPos(h=panel.height, w=panel.width, x=x, y=y)))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return out


def _variable(v: Variable) -> g.Template:
    if v.kind == "datasource":
        return g.Template(name=v.name, label=v.label, query="prometheus", type="datasource", hide=0)
    return g.Template(
        name=v.name,
        label=v.label,
        query=v.query,
        dataSource=DATASOURCE,
        includeAll=True,
        multi=True,
        allValue=".*",
        default="$__all",
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        hide=0,
    )


def to_grafanalib(spec: DashboardSpec) -> g.Dashboard:
    """The dashboard as grafanalib builds it (panel ids assigned in grid order)."""
    links = [
        g.DashboardLink(
            type="dashboards", tags=[TAG], asDropdown=True, includeVars=True, keepTime=True, title="inferwatch"
        )
    ]
    links += [
        g.DashboardLink(type="link", title=x.title, uri=x.url, keepTime=False, targetBlank=True) for x in spec.links
    ]
    return g.Dashboard(
        title=spec.title,
        uid=spec.name,
        description=spec.description,
        tags=[TAG],
        timezone="utc",
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        refresh="1m",
        time=g.Time("now-6h", "now"),
        editable=False,
        links=links,
        templating=g.Templating(list=[_variable(v) for v in spec.variables]),
        panels=_layout(spec.rows),
    ).auto_panel_ids()


def to_json(spec: DashboardSpec) -> dict[str, Any]:
    """The dashboard JSON Grafana 11 and 12 load as it is (grafanalib's output, modernized)."""
    raw: dict[str, Any] = json.loads(json.dumps(to_grafanalib(spec).to_json_data(), cls=DashboardEncoder))
    return modernize(raw)


def dumps(dashboard: dict[str, Any]) -> str:
    """Stable text of a dashboard: sorted keys, two-space indent, final newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
