"""Histogram bucket boundaries a latency threshold must sit on: vLLM's defaults, or what Prometheus scraped.

A latency SLI counts `bucket{le=T}` as good events, so T must be a real boundary: otherwise
the rule silently reads nothing. Defaults are vLLM's (vllm/v1/metrics/loggers.py); deployments
may override them with `--custom-histogram-buckets`, which `slo check --prometheus` catches by
reading the `le` values Prometheus actually holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from inferwatch.conventions.normalized import histogram_series
from inferwatch.prom import PrometheusReader

# vLLM v1 default buckets (vllm/v1/metrics/loggers.py), in seconds.
VLLM_DEFAULT_BUCKETS: Mapping[str, tuple[float, ...]] = {
    # vllm:time_to_first_token_seconds
    "ttft": (
        0.001,
        0.005,
        0.01,
        0.02,
        0.04,
        0.06,
        0.08,
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
        2.5,
        5.0,
        7.5,
        10.0,
        20.0,
        40.0,
        80.0,
        160.0,
        640.0,
        2560.0,
    ),
    # vllm:request_time_per_output_token_seconds
    "tpot": (
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.15,
        0.2,
        0.3,
        0.4,
        0.5,
        0.75,
        1.0,
        2.5,
        5.0,
        7.5,
        10.0,
        20.0,
        40.0,
        80.0,
    ),
    # vllm:e2e_request_latency_seconds
    "e2e": (
        0.3,
        0.5,
        0.8,
        1.0,
        1.5,
        2.0,
        2.5,
        5.0,
        10.0,
        15.0,
        20.0,
        30.0,
        40.0,
        50.0,
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1920.0,
        7680.0,
    ),
}


def is_boundary(threshold: float, boundaries: tuple[float, ...] | list[float]) -> bool:
    """Whether ``threshold`` equals one of ``boundaries`` (to float precision)."""
    return any(math.isclose(threshold, b, rel_tol=1e-9, abs_tol=1e-12) for b in boundaries)


def scraped_boundaries(reader: PrometheusReader, kind: str) -> list[float]:
    """The finite `le` values of the normalized ``kind`` histogram Prometheus held over the last day.

    Both spellings ("2" from Go clients or Prometheus 3's normalization, "2.0" from vLLM on
    Prometheus 2) parse to the same float.
    """
    series = histogram_series(kind, "bucket")
    # Over the last day, so a histogram that saw no scrape in the last minutes still counts.
    samples = reader.query(f"count by (le) (last_over_time({series}[1d]))")
    out: set[float] = set()
    for s in samples:
        le = s.labels.get("le", "")
        try:
            value = float(le)
        except ValueError:
            continue
        if math.isfinite(value):
            out.add(value)
    return sorted(out)
