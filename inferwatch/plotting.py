"""Matplotlib plotting shared by the cost report's charts and the dashboard previews.

Both draw names a user chose (namespaces, models, pods, GPU UUIDs) and both commit their
output, so both need the same things: text that stays text (mathtext off, so ``$x$`` in a
model name is two dollar signs and an x, never italics or a parse error), labels cut to one
bounded line, a legend outside the axes on the right that leaves long names whole, series
that stay told apart when there are more than the palette has colours, and serialisation
that is byte-identical on a re-run (SVG: a fixed hash salt, no date or creator metadata, ids
prefixed so several charts can share one HTML page; PNG: no software-version metadata).

What each area draws (a week's daily lines on white, a Grafana grid on dark) stays in its
own module; only these mechanics live here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend

# Read when a text is created (and tick labels are created while saving), so drawing and
# saving both happen inside ``plotting_style``.
SAFE_TEXT_RC: Mapping[str, Any] = {"text.parse_math": False}
LABEL_CHARS = 48  # a legend or tick label; tables and tooltips carry the full name
_SVG_METADATA: Mapping[str, str | None] = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PNG_METADATA: Mapping[str, str | None] = {"Software": None}


@contextmanager
def plotting_style(rc: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Matplotlib settings for drawing user-named series: mathtext off, then the area's own ``rc``."""
    settings: dict[Any, Any] = {**SAFE_TEXT_RC, **(rc or {})}  # matplotlib types keys as its own literals
    with matplotlib.rc_context(settings):
        yield


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` on one line (newlines and runs of spaces collapsed), at most ``limit`` characters, ``…`` when cut."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def series_style(palette: Sequence[str], index: int) -> tuple[str, str]:
    """The colour and line style of the ``index``-th series: the palette in order, dashed once it repeats."""
    return palette[index % len(palette)], "-" if index < len(palette) else "--"


def legend_right(
    ax: Axes,
    handles: Sequence[Artist],
    labels: Sequence[str],
    *,
    fontsize: float,
    gap: float = 0.01,
    ncol: int = 1,
    color: str | None = None,
) -> Legend:
    """A frameless legend beside ``ax`` on the right, top-aligned, ``gap`` (axes fraction) from it.

    Outside the axes, so long names cover no data; the figure's layout (or the caller's
    reserved margin) makes the room. ``color`` colours the entries' text (on dark backgrounds).
    """
    legend = ax.legend(list(handles), list(labels), loc="upper left", bbox_to_anchor=(1 + gap, 1.0),
                       frameon=False, fontsize=fontsize, ncol=ncol)  # fmt: skip
    if color is not None:
        for text in legend.get_texts():
            text.set_color(color)
    return legend


def svg_element(fig: Figure, id_prefix: str) -> str:
    """``fig`` as one ``<svg>`` element to inline in HTML, byte-identical for the same figure.

    Text is written as text (searchable, escaped by matplotlib), the hash salt is ``id_prefix``
    rather than random, date and creator metadata are left out, and every id and reference to
    one is prefixed with ``id_prefix`` because ids are document-wide in HTML.
    """
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": id_prefix, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata=dict(_SVG_METADATA))
    text = buf.getvalue()
    svg = text[text.index("<svg") :]
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{id_prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{id_prefix}-\1)", svg)
    return re.sub(r'href="#([^"]+)"', rf'href="#{id_prefix}-\1"', svg).strip()


def png_bytes(fig: Figure, *, dpi: float, facecolor: str = "auto") -> bytes:
    """``fig`` as PNG bytes, identical for the same figure (no matplotlib version in the metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=facecolor, metadata=dict(_PNG_METADATA))
    return buf.getvalue()
