"""Alert thresholds: the one place a threshold is set.

Alerts (inferwatch.alerts), dashboards' threshold lines and the runbooks' text all read these
values, so changing one here changes every place it shows up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A Prometheus duration as alert `for:` clauses take it (one unit, e.g. 30s, 10m, 1h).
DURATION_PATTERN = r"^[1-9][0-9]*(s|m|h|d)$"

# Application-caused Xids (NVIDIA's Xid catalogue): a user program faulted, not the GPU.
DEFAULT_APPLICATION_XIDS: tuple[int, ...] = (13, 31, 43, 45, 68, 109)


class Thresholds(BaseModel):
    """Thresholds read by alerts, dashboards and runbooks alike."""

    model_config = ConfigDict(extra="forbid")

    ttft_p95_seconds: float = Field(2.0, gt=0, description="P95 time to first token that pages")
    ttft_for: str = Field("10m", pattern=DURATION_PATTERN, description="how long P95 TTFT must stay high to page")
    itl_p95_seconds: float = Field(
        0.2, gt=0, description="P95 inter-token latency (streaming speed) that opens a ticket"
    )
    kv_cache_usage_ratio: float = Field(0.95, gt=0, le=1, description="KV-cache usage that warns of preemptions")
    gpu_memory_used_ratio: float = Field(0.95, gt=0, le=1, description="GPU memory used / total that alerts")
    gpu_idle_utilization_ratio: float = Field(
        0.1, ge=0, lt=1, description="GPU busy ratio under which a GPU counts as idle while requests wait"
    )
    queue_waiting_requests: int = Field(
        10, ge=1, description="requests waiting above which a still-growing queue opens a ticket"
    )
    preemptions_per_second: float = Field(
        0.5, gt=0, description="sustained KV-cache preemptions per second per pod that open a ticket"
    )
    prefix_cache_hit_ratio: float = Field(
        0.1, ge=0, lt=1, description="prefix-cache hit ratio (hit / queried tokens) under which a ticket opens"
    )
    prefix_cache_min_queries_per_second: float = Field(
        100.0, ge=0, description="queried prefix-cache tokens per second below which the hit ratio is not judged"
    )
    throttle_for: str = Field(
        "15m", pattern=DURATION_PATTERN, description="how long thermal or power throttling must last to alert"
    )
    application_xids: list[int] = Field(
        default_factory=lambda: list(DEFAULT_APPLICATION_XIDS),
        description="Xid codes caused by applications, not hardware; they never raise the critical-Xid alert",
    )
    runbook_base_url: str = Field(
        "https://github.com/inferwatch/inferwatch/blob/main/docs/runbooks",
        description="base URL of the runbooks; each alert links <base>/<AlertName>.md",
    )

    @field_validator("application_xids")
    @classmethod
    def _sorted_unique_xids(cls, v: list[int]) -> list[int]:
        if any(x <= 0 for x in v):
            raise ValueError("Xid codes are positive integers")
        return sorted(set(v))

    @field_validator("runbook_base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.rstrip("/")
