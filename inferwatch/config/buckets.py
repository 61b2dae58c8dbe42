"""Histogram bucket boundaries a latency SLO threshold must sit on, per serving engine.

A latency SLI counts `bucket{le=T}` as good events, so T must be a real boundary of the scraped
histogram on every engine that serves what the SLO judges, or the rule silently counts nothing
there (vLLM's and SGLang's pods sum into one normalized histogram). vLLM's defaults
(vllm/v1/metrics/loggers.py) hold unless a deployment passes `--custom-histogram-buckets`;
SGLang's (python/sglang/srt/observability/metrics_collector.py, 0.5.23) unless it passes
`--bucket-time-to-first-token`, `--bucket-inter-token-latency` (TPOT's too) or
`--bucket-e2e-request-latency`. Such a deployment declares its boundaries under `buckets:` in
inferwatch.yaml (vLLM's at the top, SGLang's under `buckets.sglang`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

BucketKind = Literal["ttft", "tpot", "e2e"]
# The serving engines whose histograms the normalized engine series sum (inferwatch.conventions.normalized).
Engine = Literal["vllm", "sglang"]

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
    "tpot": (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0),
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


# SGLang 0.5.23 default buckets (metrics_collector.py, TokenizerMetricsCollector), in seconds.
SGLANG_DEFAULT_BUCKETS: Mapping[str, tuple[float, ...]] = {
    # sglang:time_to_first_token_seconds
    "ttft": (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 200.0, 400.0),
    # sglang:request_time_per_output_token_seconds (the inter-token-latency buckets)
    "tpot": (
        0.002,
        0.004,
        0.006,
        0.008,
        0.01,
        0.015,
        0.02,
        0.025,
        0.03,
        0.035,
        0.04,
        0.06,
        0.08,
        0.1,
        0.2,
        0.4,
        0.6,
        0.8,
        1.0,
        2.0,
        4.0,
        6.0,
        8.0,
    ),
    # sglang:e2e_request_latency_seconds
    "e2e": (
        0.1,
        0.2,
        0.4,
        0.6,
        0.8,
        1.0,
        2.0,
        4.0,
        6.0,
        8.0,
        10.0,
        20.0,
        40.0,
        60.0,
        80.0,
        100.0,
        200.0,
        400.0,
        600.0,
        1200.0,
        1800.0,
        2400.0,
    ),
}
DEFAULT_BUCKETS: Mapping[str, Mapping[str, tuple[float, ...]]] = {
    "vllm": VLLM_DEFAULT_BUCKETS,
    "sglang": SGLANG_DEFAULT_BUCKETS,
}
# How each engine is told other boundaries, per kind (for messages).
_FLAGS: Mapping[str, Mapping[str, str]] = {
    "vllm": {
        "ttft": "--custom-histogram-buckets",
        "tpot": "--custom-histogram-buckets",
        "e2e": "--custom-histogram-buckets",
    },
    "sglang": {
        "ttft": "--bucket-time-to-first-token",
        "tpot": "--bucket-inter-token-latency",
        "e2e": "--bucket-e2e-request-latency",
    },
}


def is_boundary(threshold: float, boundaries: Sequence[float]) -> bool:
    """Whether ``threshold`` equals one of ``boundaries`` (to float precision)."""
    return any(math.isclose(threshold, b, rel_tol=1e-9, abs_tol=1e-12) for b in boundaries)


def _increasing(values: list[float]) -> list[float]:
    if any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError("boundaries are finite numbers of seconds above 0 (+Inf is implied)")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("boundaries must be strictly increasing, as --custom-histogram-buckets takes them")
    return values


Boundaries = Annotated[list[float], Field(min_length=1, max_length=200), AfterValidator(_increasing)]


class SglangBuckets(BaseModel):
    """`buckets.sglang`: boundaries of SGLang servers started with the `--bucket-*` flags, per latency kind."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ttft: Boundaries | None = Field(
        None, description="sglang:time_to_first_token_seconds boundaries (--bucket-time-to-first-token)"
    )
    tpot: Boundaries | None = Field(
        None,
        description="sglang:request_time_per_output_token_seconds boundaries (--bucket-inter-token-latency)",
    )
    e2e: Boundaries | None = Field(
        None, description="sglang:e2e_request_latency_seconds boundaries (--bucket-e2e-request-latency)"
    )


class HistogramBuckets(BaseModel):
    """The `buckets:` section: boundaries of deployments started with custom histogram buckets, per kind.

    The top-level kinds are vLLM's (`--custom-histogram-buckets`), `sglang:` holds SGLang's; a
    kind left out uses that engine's default buckets.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ttft: Boundaries | None = Field(None, description="vllm:time_to_first_token_seconds boundaries (seconds)")
    tpot: Boundaries | None = Field(None, description="vllm:request_time_per_output_token_seconds boundaries")
    e2e: Boundaries | None = Field(None, description="vllm:e2e_request_latency_seconds boundaries (seconds)")
    sglang: SglangBuckets = Field(
        default_factory=SglangBuckets, description="SGLang's boundaries, for servers started with --bucket-* flags"
    )

    def _declared(self, kind: str, engine: str) -> list[float] | None:
        section: BaseModel = self if engine == "vllm" else self.sglang
        declared: list[float] | None = getattr(section, kind)
        return declared

    def boundaries(self, kind: str, engine: str = "vllm") -> tuple[float, ...]:
        """The boundaries of ``kind`` on ``engine``: the declared ones, else the engine's defaults."""
        declared = self._declared(kind, engine)
        return tuple(declared) if declared is not None else DEFAULT_BUCKETS[engine][kind]

    def origin(self, kind: str, engine: str = "vllm") -> str:
        """Where ``kind``'s boundaries on ``engine`` come from, for messages."""
        if self._declared(kind, engine) is not None:
            return f"buckets.{kind}" if engine == "vllm" else f"buckets.{engine}.{kind}"
        return f"vLLM's default {kind} buckets" if engine == "vllm" else f"SGLang's default {kind} buckets"

    def flag(self, kind: str, engine: str = "vllm") -> str:
        """The server flag that sets ``kind``'s boundaries on ``engine``, and where inferwatch.yaml declares them."""
        where = f"buckets.{kind}" if engine == "vllm" else f"buckets.{engine}.{kind}"
        return f"{_FLAGS[engine][kind]} (declared under {where})"
