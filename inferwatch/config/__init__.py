"""Typed configuration (inferwatch.yaml): one model, loaded once at the entry point and passed down."""

from inferwatch.config.exporter import ExporterSettings
from inferwatch.config.model import (
    InferwatchConfig,
    PrometheusSettings,
    env_overrides,
    load_config,
    parse_config,
)
from inferwatch.config.pricing import Pricing
from inferwatch.config.slo import SLOSpec
from inferwatch.config.thresholds import Thresholds

__all__ = [
    "ExporterSettings",
    "InferwatchConfig",
    "Pricing",
    "PrometheusSettings",
    "SLOSpec",
    "Thresholds",
    "env_overrides",
    "load_config",
    "parse_config",
]
