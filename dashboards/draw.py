"""Drawing a previewed dashboard with matplotlib: each panel at its grid position, as Grafana lays it out.

Time series are lines with their threshold lines (and shading where the panel shades), stats
a big number coloured by their thresholds, tables a grid of the merged instant results, state
timelines coloured bands with their value mappings. A panel without data says so in red, or
in grey with its condition when it is empty by design.

The grid, Grafana's dark theme and palette, its units and the clock on the time axis are the
previews' own; keeping label and legend text literal and one-line, the legend beside wide
panels and the PNG byte-identical is shared with the cost report's charts through
:mod:`inferwatch.plotting`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from inferwatch.fileio import write_atomic
from inferwatch.plotting import legend_right, plotting_style, png_bytes, series_style, short_label

if TYPE_CHECKING:
    from inferwatch.dashboards.results import PanelData

GRID_COLUMNS = 24
COLUMN_IN = 0.8  # inches per grid column
ROW_IN = 0.36  # inches per grid unit (Grafana: 30 px + margin)
HEADER_IN = 0.7
BACKGROUND = "#111217"
PANEL = "#181b1f"
TEXT = "#ccccdc"
MUTED = "#8e8e9e"
COLORS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "blue": "#5794f2",
    "yellow": "#fade2a",
}
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d"]


def _color(name: str) -> str:
    return COLORS.get(name, name)


def format_value(value: float, unit: str) -> str:
    """A value in a Grafana unit, the way a reader expects it (45 %, 1.2 s, 3.4 GiB, $12.30)."""
    if not math.isfinite(value):
        return "–"
    if unit == "percentunit":
        return f"{value * 100:.3g} %"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "bytes":
        for suffix, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.0f} B"
    if unit == "hertz":
        return f"{value / 1e9:.3g} GHz" if abs(value) >= 1e9 else f"{value / 1e6:.3g} MHz"
    if unit.startswith("currency"):
        code = unit.removeprefix("currency")
        symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}.get(code, code + " ")
        return f"{symbol}{value:,.2f}" if abs(value) < 1e6 else f"{symbol}{value:.3g}"
    suffix = {"watt": " W", "joule": " J", "celsius": " °C", "reqps": " req/s", "h": " h"}.get(unit, "")
    if unit.startswith("suffix:"):
        suffix = " " + unit.removeprefix("suffix:").strip()
    for scale, letter in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{letter}{suffix}"
    return f"{value:.3g}{suffix}"


def _steps(panel_json: dict[str, Any]) -> list[tuple[float | None, str]]:
    steps = panel_json.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    return [(s.get("value"), _color(str(s.get("color", "green")))) for s in steps]


def _color_for(value: float, steps: Sequence[tuple[float | None, str]]) -> str:
    color = TEXT
    for threshold, c in steps:
        if threshold is None or value >= threshold:
            color = c
    return color


def _mapping(panel_json: dict[str, Any]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for m in panel_json.get("fieldConfig", {}).get("defaults", {}).get("mappings", []):
        for value, opt in m.get("options", {}).items():
            out[str(value)] = (str(opt.get("text", value)), _color(str(opt.get("color", "blue"))))
    return out


def _clock_format(start: datetime, end: datetime) -> str:
    """Seconds on the time axis when the range is short."""
    return "%H:%M:%S" if (end - start).total_seconds() < 1800 else "%H:%M"


def _clock(t: float, fmt: str) -> str:
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def _style(ax: Axes) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_color("#2c3235")
    ax.tick_params(colors=MUTED, labelsize=6)


def _message(ax: Axes, text: str, color: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, ha="center", va="center", color=color, fontsize=8, wrap=True, transform=ax.transAxes)


def _timeseries(ax: Axes, data: PanelData, unit: str, start: datetime, end: datetime) -> None:
    custom = data.json.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    style = custom.get("thresholdsStyle", {}).get("mode", "off")
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    values: list[float] = []
    base: dict[float, float] = {}
    for i, s in enumerate(data.series):
        color, linestyle = series_style(PALETTE, i)
        xs = [t for t, _ in s.points]
        ys = [v + base.get(t, 0.0) if stacked else v for t, v in s.points]
        if stacked:
            ax.fill_between(xs, [base.get(t, 0.0) for t in xs], ys, color=color, alpha=0.25, linewidth=0)
            base.update(zip(xs, ys, strict=True))
        ax.plot(xs, ys, color=color, linestyle=linestyle, linewidth=1.1, label=short_label(s.legend))
        values += [v for v in ys if math.isfinite(v)]
    steps = _steps(data.json)
    if style != "off":
        for value, color in steps:
            if value is not None:
                ax.axhline(value, color=color, linewidth=0.9, linestyle="--" if "dashed" in style else "-")
        # Show the threshold lines even when the data stays far from them.
        values += [float(v) for v, _ in steps if v is not None]
    defaults = data.json.get("fieldConfig", {}).get("defaults", {})
    if values:
        lo, hi = min([*values, 0.0]), max(values)
        pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
        low = float(defaults["min"]) if "min" in defaults else (lo - pad if lo < 0 else 0.0)
        high = float(defaults["max"]) if "max" in defaults else hi + pad
        ax.set_ylim(low, high if high > low else low + 1)
    if "area" in style and len(steps) > 1 and steps[1][0] is not None:
        # Grafana shades the band below the first threshold in the base colour (budget below zero).
        ax.axhspan(ax.get_ylim()[0], float(steps[1][0]), color=steps[0][1], alpha=0.15, linewidth=0)
    ax.set_xlim(start.timestamp(), end.timestamp())
    fmt = _clock_format(start, end)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: _clock(t, fmt)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))
    ax.grid(color="#2c3235", linewidth=0.5)


def _legend(ax: Axes, placement: str) -> None:
    """Grafana's list legend: right of wide panels, below narrow ones with many series, else in the corner."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if placement == "right":
        legend_right(ax, handles[:24], labels[:24], fontsize=5.5, gap=0.005, ncol=2 if len(handles) > 12 else 1,
                     color=TEXT)  # fmt: skip
        return
    if placement == "bottom":
        shown = [short_label(lbl, 39) for lbl in labels[:8]]
        legend = ax.legend(handles[:8], shown, loc="upper left", bbox_to_anchor=(0.0, -0.1), fontsize=5,
                           frameon=False, ncol=2)  # fmt: skip
    else:
        legend = ax.legend(loc="upper left", fontsize=5.5, frameon=False)
    for text in legend.get_texts():
        text.set_color(TEXT)


def _stat(ax: Axes, data: PanelData, unit: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    steps = _steps(data.json)
    shown = [s for s in data.series if s.points][:4]
    for i, s in enumerate(shown):
        value = s.points[-1][1]
        y = 0.5 if len(shown) == 1 else 0.85 - i * (0.7 / max(len(shown) - 1, 1))
        size = 20 if len(shown) == 1 else 10
        ax.text(0.5, y, format_value(value, unit), ha="center", va="center", fontsize=size,
                color=_color_for(value, steps), fontweight="bold", transform=ax.transAxes)  # fmt: skip
        if len(shown) > 1:
            name = short_label(s.legend, 30)
            ax.text(0.02, y, name, ha="left", va="center", fontsize=6, color=MUTED, transform=ax.transAxes)


def _table(ax: Axes, data: PanelData, unit: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    # Grafana's "merge" transformation: one line per label set, one column per query.
    queries: list[str] = []
    rows: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for s in data.series:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "__name__"))
        rows.setdefault(key, {})[s.legend] = s.points[-1][1] if s.points else math.nan
        if s.legend not in queries:
            queries.append(s.legend)
    labels = sorted({k for key in rows for k, _ in key})
    header = labels + queries
    cells = [
        [dict(key).get(label, "") for label in labels] + [format_value(vals.get(q, math.nan), unit) for q in queries]
        for key, vals in sorted(rows.items())
    ][:12]
    if not cells:
        return
    table = ax.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(5.5)
    for (r, _), cell in table.get_celld().items():
        cell.set_facecolor("#22252b" if r == 0 else PANEL)
        cell.set_edgecolor("#2c3235")
        cell.get_text().set_color(TEXT)


def _state_timeline(ax: Axes, data: PanelData, start: datetime, end: datetime) -> None:
    mapping = _mapping(data.json)
    steps = _steps(data.json)
    t0, t1 = start.timestamp(), end.timestamp()
    n = len(data.series)
    ax.set_xlim(t0, t1)
    ax.set_ylim(0, n)
    ax.set_yticks([n - i - 0.5 for i in range(n)])
    ax.set_yticklabels([short_label(s.legend, 36) for s in data.series], fontsize=5.5, color=TEXT)
    for i, s in enumerate(data.series):
        y = n - i - 1
        for j, (t, v) in enumerate(s.points):
            nxt = s.points[j + 1][0] if j + 1 < len(s.points) else t1
            _, color = mapping.get(f"{v:g}", (f"{v:g}", _color_for(v, steps)))
            ax.add_patch(Rectangle((t, y + 0.1), nxt - t, 0.8, color=color, alpha=0.85, linewidth=0))
    ticks = [t0 + (t1 - t0) * k / 4 for k in range(5)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([_clock(t, _clock_format(start, end)) for t in ticks])
    handles = [Rectangle((0, 0), 1, 1, color=c) for _, c in mapping.values()]
    if handles:
        legend = ax.legend(handles, [t for t, _ in mapping.values()], loc="lower right", fontsize=5.5, frameon=False,
                           ncol=len(handles))  # fmt: skip
        for text in legend.get_texts():
            text.set_color(TEXT)


def draw_dashboard(
    dashboard: dict[str, Any],
    data: Sequence[PanelData],
    shown_variables: Mapping[str, str],
    start: datetime,
    end: datetime,
    png: Path,
) -> None:
    """Draw ``dashboard`` with the queried ``data`` (its non-row panels, in order) to ``png``."""
    with plotting_style():
        fig = _figure(dashboard, data, shown_variables, start, end)
        content = png_bytes(fig, dpi=80, facecolor=BACKGROUND)
    write_atomic(png, content)


def _figure(
    dashboard: dict[str, Any],
    data: Sequence[PanelData],
    shown_variables: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> Figure:
    panels = dashboard["panels"]
    units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = GRID_COLUMNS * COLUMN_IN, units * ROW_IN + HEADER_IN
    fig = Figure(figsize=(width, height), facecolor=BACKGROUND)
    head = 1 - HEADER_IN / height
    fig.text(0.01, 1 - 0.3 / height, dashboard["title"], color=TEXT, fontsize=14, va="center", fontweight="bold")
    subtitle = "   ".join(f"{k}: {v}" for k, v in shown_variables.items())
    span = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    fig.text(0.01, 1 - 0.58 / height, f"{span}   {subtitle}"[:220], color=MUTED, fontsize=7, va="center")
    by_id = {int(d.json["id"]): d for d in data}
    for p in panels:
        pos = p["gridPos"]
        left, w = pos["x"] / GRID_COLUMNS, pos["w"] / GRID_COLUMNS
        top = head * (1 - pos["y"] / units)
        h = head * pos["h"] / units
        if p["type"] == "row":
            fig.text(left + 0.003, top - h / 2, p["title"], color=TEXT, fontsize=10, va="center", fontweight="bold")
            continue
        d = by_id[int(p["id"])]
        many = len(d.series) > 4
        placement = "right" if pos["w"] >= 16 else ("bottom" if many else "inside")
        placement = placement if p["type"] == "timeseries" else "inside"
        shows_data = not (d.empty or d.error)
        margin = {"timeseries": 0.028, "state-timeline": 0.085}.get(p["type"], 0.0) if shows_data else 0.0
        right = 0.22 * w if placement == "right" and shows_data else 0.0
        # Room below the plot for a bottom legend: a quarter of the panel per four entries.
        below = 0.12 * h * min(4, (min(len(d.series), 8) + 1) // 2) / 4 * 2 if placement == "bottom" else 0.0
        ax = fig.add_axes(
            (
                left + 0.003 + margin,
                top - h + 0.35 * h / pos["h"] + below,
                w - 0.006 - margin - right,
                h - 0.85 * h / pos["h"] - below,
            )
        )
        _style(ax)
        fig.text(left + 0.004, top - 0.1 * h / pos["h"], p["title"], color=TEXT, fontsize=7.5, va="top")
        unit = str(p.get("fieldConfig", {}).get("defaults", {}).get("unit", ""))
        if d.error:
            _message(ax, f"Query rejected: {d.error[:120]}", COLORS["red"])
        elif d.empty:
            if d.panel.empty_when:
                _message(ax, f"No data (by design: empty when {d.panel.empty_when})", MUTED)
            else:
                _message(ax, "No data", COLORS["red"])
        elif p["type"] == "timeseries":
            _timeseries(ax, d, unit, start, end)
            _legend(ax, placement)
        elif p["type"] == "stat":
            _stat(ax, d, unit)
        elif p["type"] == "table":
            _table(ax, d, unit)
        else:
            _state_timeline(ax, d, start, end)
    return fig
