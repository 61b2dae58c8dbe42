"""Grafana dashboards generated with grafanalib from the normalized inferwatch:* series.

Public surface: `artifacts` (the build generator), `check_dashboard` (the build's validator of
GRAFANA_DASHBOARD artifacts) and `render_previews` / `PreviewResult` (previews without Grafana).
Imports are lazy so that loading the package for one of them does not load matplotlib for all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferwatch.dashboards.generate import artifacts
    from inferwatch.dashboards.lint import check_dashboard
    from inferwatch.dashboards.preview import EmptyPanel, PreviewResult, render_previews

__all__ = ["EmptyPanel", "PreviewResult", "artifacts", "check_dashboard", "render_previews"]

_MODULE_OF = {
    "artifacts": "inferwatch.dashboards.generate",
    "check_dashboard": "inferwatch.dashboards.lint",
    "EmptyPanel": "inferwatch.dashboards.preview",
    "PreviewResult": "inferwatch.dashboards.preview",
    "render_previews": "inferwatch.dashboards.preview",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_MODULE_OF[name]), name)
