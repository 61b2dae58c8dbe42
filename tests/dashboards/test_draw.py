"""Drawing a previewed dashboard: hostile series names are drawn as text and the PNG repeats byte for byte."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matplotlib.image import imread

from inferwatch.config import load_config
from inferwatch.dashboards import generate
from inferwatch.dashboards.draw import draw_dashboard
from inferwatch.dashboards.render import to_json
from inferwatch.dashboards.results import PanelData, SeriesData

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inferwatch.yaml"
END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=3)
# Label values are whatever a user named things: balanced dollars (mathtext unless it is off,
# and an unknown command makes matplotlib raise), markup, a newline.
HOSTILE = ("team $x$", r"ns $\nosuchcommand{a}$", "<b>model</b>\nsecond line", "gpu-node-1 GPU-" + "5" * 60)


def _data(spec_name: str) -> tuple[dict[str, object], list[PanelData]]:
    spec = next(s for s in generate.specs(load_config(EXAMPLE)) if s.name == spec_name)
    dashboard = to_json(spec)
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    data = []
    for k, (panel, panel_json) in enumerate(zip(spec.panels(), panels, strict=True)):
        series = tuple(
            SeriesData(
                name,
                {"namespace": name, "pod": f"p{i}"},
                [(START.timestamp() + j * 270, 0.2 + 0.1 * i + 0.05 * math.sin(j + k)) for j in range(41)],
            )
            for i, name in enumerate(HOSTILE)
        )
        data.append(PanelData(panel, panel_json, series))
    return dashboard, data


def test_hostile_series_names_draw_and_the_png_repeats(tmp_path: Path) -> None:
    for name in ("inferwatch-inference", "inferwatch-gpu-fleet", "inferwatch-slos", "inferwatch-cost"):
        dashboard, data = _data(name)
        first, second = tmp_path / f"{name}.png", tmp_path / "again" / f"{name}.png"
        draw_dashboard(dashboard, data, {"namespace": "team $x$"}, START, END, first)
        draw_dashboard(dashboard, data, {"namespace": "team $x$"}, START, END, second)
        assert first.read_bytes() == second.read_bytes(), name
        assert b"Matplotlib" not in first.read_bytes()
        height, width, _ = imread(first).shape
        assert width == 1536 and height > 400  # 24 grid columns of 0.8 in at 80 dpi
    # Written through a temporary file and a rename: no half-written file is left beside them.
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "inferwatch-cost.png",
        "inferwatch-gpu-fleet.png",
        "inferwatch-inference.png",
        "inferwatch-slos.png",
    ]
