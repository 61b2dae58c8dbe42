"""Typed configuration (inferwatch.yaml): one model, loaded once at the entry point and passed down.

The names below are loaded on first use: `inferwatch exporter run` reads `inferwatch.config.exporter`
alone (`light_exporter_settings`), and a sidecar never loads pydantic-settings or the SLO, cost and
workload models it does not read (issue 23).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferwatch.config.buckets import VLLM_DEFAULT_BUCKETS, HistogramBuckets, is_boundary
    from inferwatch.config.cost_report import CostReportSettings, FocusVersion
    from inferwatch.config.exporter import ExporterSettings
    from inferwatch.config.model import DEFAULTS_SOURCE, InferwatchConfig, edge_problems, load_config, parse_config
    from inferwatch.config.pricing import Pricing
    from inferwatch.config.prometheus import PrometheusSettings
    from inferwatch.config.slo import SLOSpec
    from inferwatch.config.thresholds import Thresholds
    from inferwatch.config.yamlfile import display_path

# Each exported name -> the module that defines it.
_HOMES = {
    "VLLM_DEFAULT_BUCKETS": "buckets",
    "HistogramBuckets": "buckets",
    "is_boundary": "buckets",
    "CostReportSettings": "cost_report",
    "FocusVersion": "cost_report",
    "ExporterSettings": "exporter",
    "DEFAULTS_SOURCE": "model",
    "InferwatchConfig": "model",
    "display_path": "yamlfile",
    "edge_problems": "model",
    "load_config": "model",
    "parse_config": "model",
    "Pricing": "pricing",
    "PrometheusSettings": "prometheus",
    "SLOSpec": "slo",
    "Thresholds": "thresholds",
}

__all__ = [
    "DEFAULTS_SOURCE",
    "VLLM_DEFAULT_BUCKETS",
    "CostReportSettings",
    "ExporterSettings",
    "FocusVersion",
    "HistogramBuckets",
    "InferwatchConfig",
    "Pricing",
    "PrometheusSettings",
    "SLOSpec",
    "Thresholds",
    "display_path",
    "edge_problems",
    "is_boundary",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
