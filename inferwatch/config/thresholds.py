"""Alert thresholds and source selectors: the one place a threshold is set."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """Thresholds read by alerts, dashboards and runbooks alike."""

    model_config = ConfigDict(extra="forbid")

    ttft_p95_seconds: float = Field(2.0, gt=0, description="P95 time to first token that pages")
    kv_cache_usage_ratio: float = Field(0.95, gt=0, le=1, description="KV-cache usage that warns of preemptions")
    gpu_memory_used_ratio: float = Field(0.95, gt=0, le=1, description="GPU memory used / total that alerts")
