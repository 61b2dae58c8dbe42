"""Typed configuration (inferwatch.yaml): one model, loaded once at the entry point and passed down."""

from inferwatch.config.buckets import VLLM_DEFAULT_BUCKETS, HistogramBuckets, is_boundary
from inferwatch.config.cost_report import CostReportSettings, FocusVersion
from inferwatch.config.exporter import ExporterSettings
from inferwatch.config.model import (
    DEFAULTS_SOURCE,
    InferwatchConfig,
    display_path,
    edge_problems,
    load_config,
    parse_config,
)
from inferwatch.config.pricing import Pricing
from inferwatch.config.prometheus import PrometheusSettings
from inferwatch.config.slo import SLOSpec
from inferwatch.config.thresholds import Thresholds

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
