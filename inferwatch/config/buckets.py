"""Histogram bucket boundaries a latency SLO threshold must sit on: vLLM's defaults or the config's `buckets:`.

A latency SLI counts `bucket{le=T}` as good events, so T must be a real boundary of the scraped
histogram, or the rule silently reads nothing. vLLM's defaults (vllm/v1/metrics/loggers.py) hold
unless a deployment passes `--custom-histogram-buckets`; such a deployment declares its
boundaries under `buckets:` in inferwatch.yaml.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

BucketKind = Literal["ttft", "tpot", "e2e"]

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


class HistogramBuckets(BaseModel):
    """The `buckets:` section: boundaries of a deployment's `--custom-histogram-buckets`, per latency kind.

    A kind left out uses vLLM's default buckets.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ttft: Boundaries | None = Field(None, description="vllm:time_to_first_token_seconds boundaries (seconds)")
    tpot: Boundaries | None = Field(None, description="vllm:request_time_per_output_token_seconds boundaries")
    e2e: Boundaries | None = Field(None, description="vllm:e2e_request_latency_seconds boundaries (seconds)")

    def boundaries(self, kind: str) -> tuple[float, ...]:
        """The boundaries of ``kind``: the declared ones, else vLLM's defaults."""
        declared: list[float] | None = getattr(self, kind)
        return tuple(declared) if declared is not None else VLLM_DEFAULT_BUCKETS[kind]

    def origin(self, kind: str) -> str:
        """Where ``kind``'s boundaries come from, for messages."""
        return f"buckets.{kind}" if getattr(self, kind) is not None else f"vLLM's default {kind} buckets"
