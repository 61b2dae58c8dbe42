"""The weekly cost report's charts, drawn with matplotlib as SVG to inline into the HTML page.

What the report draws lives here: cost by namespace as bars, and a line per namespace (or
namespace/model) over the week's days, on white with Tableau colours. How user-named text
stays text, labels stay one line, the legend sits beside the plot and the SVG comes out
byte-identical with ids unique on the page is shared with the dashboard previews through
:mod:`inferwatch.plotting`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from inferwatch.plotting import legend_right, plotting_style, series_style, short_label, svg_element

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_RC: dict[str, Any] = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=72, layout="constrained")


def bar_chart(key: str, title: str, items: Sequence[tuple[str, float]], unit: str) -> str:
    """A horizontal bar chart, largest first, as an SVG element."""
    with plotting_style(_RC):
        fig = _figure(9.0, 1.2 + 0.28 * max(len(items), 1))
        ax = fig.add_subplot()
        labels = [short_label(label) for label, _ in items][::-1]
        values = [v if math.isfinite(v) else 0.0 for _, v in items][::-1]
        # The i-th largest gets the i-th colour, as the i-th namespace does in the line charts.
        colors = [series_style(_PALETTE, i)[0] for i in range(len(values))][::-1]
        bars = ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)), labels)
        ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values], padding=3)
        ax.set_xlabel(unit)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.margins(x=0.15)
        return svg_element(fig, key)


def line_chart(key: str, title: str, series: Sequence[tuple[str, Sequence[tuple[int, float]]]], unit: str) -> str:
    """A line per series over the week's days (Mon..Sun), with a legend, as an SVG element."""
    with plotting_style(_RC):
        fig = _figure(9.0, 3.4)
        ax = fig.add_subplot()
        for i, (label, points) in enumerate(series):
            finite = [(d, v) for d, v in points if math.isfinite(v)]
            if finite:
                color, linestyle = series_style(_PALETTE, i)
                ax.plot(
                    [d for d, _ in finite],
                    [v for _, v in finite],
                    marker="o",
                    markersize=3,
                    color=color,
                    linestyle=linestyle,
                    label=short_label(label),
                )
        ax.set_xticks(range(7), DAYS)
        ax.set_xlim(-0.3, 6.3)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(unit)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.grid(axis="y", color="#dddddd")
        if series:
            legend_right(ax, *ax.get_legend_handles_labels(), fontsize=8)
        return svg_element(fig, key)
