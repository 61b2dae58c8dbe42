"""The one post-processing step between grafanalib's output and the committed dashboard JSON.

grafanalib 0.7.1 builds current panel types (timeseries, stat, table, state-timeline, row) but
wraps them in shapes Grafana 11 and 12 no longer use or that their dashboard JSON schema
rejects. `modernize` rewrites exactly those, and nothing else:

- dashboard: `__inputs` (import placeholders; the files are provisioned, not imported), `rows`,
  `style`, `hideControls`, `sharedCrosshair`, `gnetId` and a null `id` go; `schemaVersion` 12
  becomes `SCHEMA_VERSION` (41: what Grafana 11.6 writes; Grafana 12 migrates it on load);
  `timepicker.time_options` goes;
- panels: the pre-grid `height`, `span`, `minSpan`, `error`, `editable` keys and every null value
  go; a table's top-level `columns`, `fontSize`, `color` and `mappings` (Grafana 7's table)
  go, its mappings moving to `fieldConfig.defaults.mappings`; rows lose the query fields a row
  has no use for;
- thresholds: steps lose the graph-panel keys (`op`, `yaxis`, `line`, `index`) and the base
  step's value is JSON null, not the string "null";
- targets: the Graphite/legacy keys (`target`, `metric`, `step`, `intervalFactor`, `query`,
  `hide`) go, and `range` is set to the opposite of `instant`, as Grafana's Prometheus editor does;
- panel options: the keys Grafana 11 added and its schema requires are filled in with
  Grafana's own defaults (timeseries `legend.showLegend`; stat `wideLayout`, `showPercentChange`,
  `percentChangeColorMode`;
  table `frameIndex` and `custom.inspect`);
- variables: a `current` without text (grafanalib's placeholder) goes, and so does its `tags`;
  the tag-era keys (`useTags`, `tagsQuery`, `tagValuesQuery`) and the interval-only
  keys (`auto`, `auto_min`, `auto_count`) go.

The result validates against Grafana's dashboard JSON schema (tests/dashboards check both the
v11.6 and the current schema).
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 41

_DASHBOARD_DROP = ("__inputs", "rows", "style", "hideControls", "sharedCrosshair", "gnetId", "id")
_PANEL_DROP = ("height", "span", "minSpan", "error", "editable")
_TABLE_DROP = ("columns", "fontSize", "color", "mappings")
_ROW_KEEP = ("type", "collapsed", "title", "gridPos", "id", "panels")
_TARGET_DROP = ("target", "metric", "step", "intervalFactor", "query", "hide")
_VARIABLE_DROP = ("useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count")
_STEP_KEEP = ("color", "value")


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, step in enumerate(steps):
        kept = {k: step[k] for k in _STEP_KEEP if k in step}
        kept["value"] = None if i == 0 or kept.get("value") in ("null", None) else kept["value"]
        out.append(kept)
    return out


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in target.items() if k not in _TARGET_DROP and v != ""}
    out["range"] = not out.get("instant", False)
    return out


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel.get("type") == "row":
        return {k: panel[k] for k in _ROW_KEEP if k in panel}
    out = {k: v for k, v in panel.items() if k not in _PANEL_DROP}
    if out.get("type") == "table":
        mappings = out.get("mappings") or []
        out = {k: v for k, v in out.items() if k not in _TABLE_DROP}
        if mappings:
            out["fieldConfig"]["defaults"]["mappings"] = mappings
    defaults = out.get("fieldConfig", {}).get("defaults", {})
    thresholds = defaults.get("thresholds")
    if thresholds is not None:
        thresholds["steps"] = _steps(thresholds.get("steps") or [{"color": "green", "value": None}])
    out["targets"] = [_target(t) for t in out.get("targets", [])]
    options = out.setdefault("options", {})
    if out.get("type") in ("timeseries", "state-timeline"):
        options.setdefault("legend", {}).setdefault("showLegend", True)
    elif out.get("type") == "stat":
        options.setdefault("wideLayout", True)
        options.setdefault("showPercentChange", False)
        options.setdefault("percentChangeColorMode", "standard")
    elif out.get("type") == "table":
        options.setdefault("frameIndex", 0)
        out["fieldConfig"]["defaults"].setdefault("custom", {}).setdefault("inspect", False)
    for key in ("repeatDirection", "maxPerRow"):
        if not out.get("repeat"):
            out.pop(key, None)
    return out


def modernize(dashboard: dict[str, Any]) -> dict[str, Any]:
    """grafanalib's dashboard JSON (as `DashboardEncoder` writes it) in the shape Grafana 11/12 load."""
    out: dict[str, Any] = _drop_nulls({k: v for k, v in dashboard.items() if k not in _DASHBOARD_DROP})
    out["schemaVersion"] = SCHEMA_VERSION
    out.get("timepicker", {}).pop("time_options", None)
    out["panels"] = [_panel(p) for p in out.get("panels", [])]
    for variable in out.get("templating", {}).get("list", []):
        for key in _VARIABLE_DROP:
            variable.pop(key, None)
        current = variable.get("current", {})
        current.pop("tags", None)
        if "text" not in current:
            variable.pop("current", None)
    return out
