"""The HTML index of a preview run (Jinja2, autoescaped: titles and label values are not markup)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, select_autoescape

if TYPE_CHECKING:
    from inferwatch.dashboards.results import DashboardPreview

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True), keep_trailing_newline=True)
# Beside this module, so the `*.j2` package data of pyproject.toml ships it.
_TEMPLATE = "index.html.j2"


def write_index(
    out_dir: Path, previews: Sequence[DashboardPreview], start: datetime, end: datetime, prometheus: str
) -> Path:
    """Write `index.html` listing every dashboard, its empty panels and its PNG; returns its path."""
    template = _ENV.from_string(files("inferwatch.dashboards").joinpath(_TEMPLATE).read_text())
    html = template.render(
        dashboards=previews,
        start=f"{start:%Y-%m-%d %H:%M}",
        end=f"{end:%Y-%m-%d %H:%M}",
        prometheus=prometheus,
    )
    path = out_dir / "index.html"
    path.write_text(html)
    return path
