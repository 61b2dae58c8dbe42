"""The plotting mechanics the cost report and the dashboard previews share (inferwatch.plotting)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from matplotlib.figure import Figure

from inferwatch.plotting import legend_right, plotting_style, png_bytes, series_style, short_label, svg_element

PALETTE = ("#111111", "#222222", "#333333")
# Balanced dollars are mathtext unless it is off: `$x$` would lose its dollars and turn italic,
# and an unknown command would make matplotlib raise while drawing.
HOSTILE = ("team $x$", r"model $\nosuchcommand{a}$", "<script>alert('x')</script> & \"q\"")
SVG = "{http://www.w3.org/2000/svg}"


def _chart(names: tuple[str, ...]) -> Figure:
    fig = Figure(figsize=(6.0, 2.5), dpi=72, layout="constrained")
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        color, linestyle = series_style(PALETTE, i)
        ax.plot([0, 1, 2], [i, i + 1, i * 2], color=color, linestyle=linestyle, label=short_label(name))
    ax.set_title(names[0])
    legend_right(ax, *ax.get_legend_handles_labels(), fontsize=8)
    return fig


def _svg(names: tuple[str, ...], id_prefix: str) -> str:
    with plotting_style():
        return svg_element(_chart(names), id_prefix)


def test_same_chart_gives_the_same_svg_bytes_with_no_dates_and_page_unique_ids() -> None:
    first, second = _svg(HOSTILE, "cost"), _svg(HOSTILE, "cost")
    assert first == second
    assert first.startswith("<svg") and "<?xml" not in first and "<!DOCTYPE" not in first
    assert "dc:date" not in first and "Matplotlib" not in first
    ids = re.findall(r'\bid="([^"]+)"', first)
    assert ids and all(i.startswith("cost-") for i in ids)
    # Every reference points at an id of the same chart, so two charts can share one HTML page.
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', first)
    assert refs and set(refs) <= set(ids)
    other = _svg(HOSTILE, "util")
    assert not set(ids) & set(re.findall(r'\bid="([^"]+)"', other))


def test_hostile_names_in_legends_are_literal_text_not_mathtext_or_markup() -> None:
    svg = _svg(HOSTILE, "h")
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]
    for name in HOSTILE:
        assert name in texts, f"{name!r} is not one text element: {texts}"
    assert "<script" not in svg


def test_hostile_names_draw_to_png_and_the_bytes_repeat() -> None:
    def draw() -> bytes:
        with plotting_style():
            return png_bytes(_chart(HOSTILE), dpi=50)

    first = draw()
    assert first.startswith(b"\x89PNG") and first == draw()
    assert b"Matplotlib" not in first and b"Software" not in first


def test_mathtext_stays_off_only_inside_the_style() -> None:
    # Outside plotting_style matplotlib's default parses math and rejects the unknown command,
    # which is the failure the shared style prevents in both areas.
    with pytest.raises(ValueError):
        png_bytes(_chart(HOSTILE[1:2]), dpi=50)


def test_labels_are_one_bounded_line() -> None:
    assert short_label("org/model\nsecond  line") == "org/model second line"
    assert short_label("x" * 48) == "x" * 48
    cut = short_label("y" * 60)
    assert len(cut) == 48 and cut.endswith("…")
    assert short_label("gpu-node-1 GPU-50000000-0000", 12) == "gpu-node-1 …"


def test_series_past_the_palette_turn_dashed() -> None:
    assert [series_style(PALETTE, i) for i in range(5)] == [
        ("#111111", "-"),
        ("#222222", "-"),
        ("#333333", "-"),
        ("#111111", "--"),
        ("#222222", "--"),
    ]


def test_legend_sits_right_of_the_axes_with_long_names_whole() -> None:
    name = "a-namespace-with-a-long-name/meta-llama-3.1-70b-instruct"
    with plotting_style():
        fig = Figure(figsize=(6.0, 2.5), dpi=72, layout="constrained")
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], label=name)
        legend = legend_right(ax, *ax.get_legend_handles_labels(), fontsize=8, color="#ccccdc")
        fig.draw_without_rendering()  # runs the constrained layout
        box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1 and box.x1 <= fig.bbox.x1 + 0.5
    assert [t.get_text() for t in legend.get_texts()] == [name]
    assert legend.get_texts()[0].get_color() == "#ccccdc" and not legend.get_frame_on()
