"""The weekly cost report's charts, drawn with matplotlib as SVG to inline into the HTML page.

Deterministic (fixed hash salt, no date or creator metadata) so a re-run is byte-identical;
text stays text (``svg.fonttype: none``) and mathtext is off, so a ``$`` in a model name is a
dollar sign. Element ids get a per-chart prefix because several charts share one HTML page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_LABEL_CHARS = 48


def _label(text: str) -> str:
    """One line, bounded length: chart labels are for recognising, tables carry full names."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= _LABEL_CHARS else one_line[: _LABEL_CHARS - 1] + "…"


def _svg(fig: Figure, key: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": key}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    svg = text[text.index("<svg") :]
    # ids are document-wide in HTML: prefix them (and their references) per chart.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    return re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg).strip()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=72, layout="constrained")
    return fig


_RC: Any = {"svg.fonttype": "none", "text.parse_math": False, "font.size": 9, "axes.spines.top": False}


def bar_chart(key: str, title: str, items: Sequence[tuple[str, float]], unit: str) -> str:
    """A horizontal bar chart, largest first, as an SVG element."""
    with matplotlib.rc_context({**_RC, "axes.spines.right": False}):
        fig = _figure(9.0, 1.2 + 0.28 * max(len(items), 1))
        ax = fig.add_subplot()
        labels = [_label(label) for label, _ in items][::-1]
        values = [v if math.isfinite(v) else 0.0 for _, v in items][::-1]
        # The i-th largest gets the i-th colour, as the i-th namespace does in the line charts.
        colors = [_PALETTE[i % len(_PALETTE)] for i in range(len(values))][::-1]
        bars = ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)), labels)
        ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values], padding=3)
        ax.set_xlabel(unit)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.margins(x=0.15)
        return _svg(fig, key)


def line_chart(key: str, title: str, series: Sequence[tuple[str, Sequence[tuple[int, float]]]], unit: str) -> str:
    """A line per series over the week's days (Mon..Sun), with a legend, as an SVG element."""
    with matplotlib.rc_context({**_RC, "axes.spines.right": False}):
        fig = _figure(9.0, 3.4)
        ax = fig.add_subplot()
        for i, (label, points) in enumerate(series):
            finite = [(d, v) for d, v in points if math.isfinite(v)]
            if finite:
                ax.plot(
                    [d for d, _ in finite],
                    [v for _, v in finite],
                    marker="o",
                    markersize=3,
                    color=_PALETTE[i % len(_PALETTE)],
                    linestyle="-" if i < len(_PALETTE) else "--",
                    label=_label(label),
                )
        ax.set_xticks(range(7), DAYS)
        ax.set_xlim(-0.3, 6.3)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(unit)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.grid(axis="y", color="#dddddd")
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        return _svg(fig, key)
