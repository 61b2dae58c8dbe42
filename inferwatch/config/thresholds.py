"""Alert thresholds and hold durations: the one place each is set.

Alerts (inferwatch.alerts), dashboards' threshold lines, the runbooks' text and the alerts'
promtool tests all read these values, so changing one here changes every place it shows up.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferwatch.config.durations import ForDuration

# Application-caused Xids (NVIDIA's Xid catalogue): a user program faulted, not the GPU.
DEFAULT_APPLICATION_XIDS: tuple[int, ...] = (13, 31, 43, 45, 68, 109)


class Thresholds(BaseModel):
    """Thresholds and `for:` durations read by alerts, dashboards and runbooks alike."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    ttft_p95_seconds: float = Field(2.0, gt=0, description="P95 time to first token that pages")
    ttft_for: ForDuration = Field("10m", description="how long P95 TTFT must stay high to page")
    itl_p95_seconds: float = Field(
        0.2, gt=0, description="P95 inter-token latency (streaming speed) that opens a ticket"
    )
    itl_for: ForDuration = Field("15m", description="how long P95 inter-token latency must stay high")
    latency_min_requests_per_second: float = Field(
        0.2,
        ge=0,
        description="requests per second (per namespace and model, over 5 minutes) below which the P95 TTFT and "
        "inter-token-latency alerts stay quiet: at 0.2/s a 5-minute P95 rests on at least 3 slow requests",
    )
    kv_cache_usage_ratio: float = Field(0.95, gt=0, le=1, description="KV-cache usage that warns of preemptions")
    kv_cache_for: ForDuration = Field("2m", description="how long the KV cache must stay above its threshold")
    gpu_memory_used_ratio: float = Field(0.95, gt=0, le=1, description="GPU memory used / total that alerts")
    gpu_memory_for: ForDuration = Field("5m", description="how long GPU memory must stay above its threshold")
    gpu_idle_utilization_ratio: float = Field(
        0.1, ge=0, lt=1, description="GPU busy ratio under which a GPU counts as idle while requests wait"
    )
    requests_waiting_gpu_idle_for: ForDuration = Field(
        "10m", description="how long requests must wait on an idle GPU to page"
    )
    queue_waiting_requests: int = Field(
        10, ge=1, le=1_000_000, description="requests waiting above which a still-growing queue opens a ticket"
    )
    queue_growing_for: ForDuration = Field("15m", description="how long the queue must keep growing")
    preemptions_per_second: float = Field(
        0.5, gt=0, description="sustained KV-cache preemptions per second per pod that open a ticket"
    )
    preemptions_for: ForDuration = Field("10m", description="how long preemptions must stay above their threshold")
    prefix_cache_hit_ratio: float = Field(
        0.1, ge=0, lt=1, description="prefix-cache hit ratio (hit / queried tokens) under which a ticket opens"
    )
    prefix_cache_min_queries_per_second: float = Field(
        100.0, ge=0, description="queried prefix-cache tokens per second below which the hit ratio is not judged"
    )
    prefix_cache_for: ForDuration = Field("1h", description="how long the prefix-cache hit ratio must stay low")
    gpu_lost_for: ForDuration = Field("1m", description="how long a GPU must be reported lost to page")
    xid_for: ForDuration = Field("0s", description="how long a critical Xid must keep recurring (0s: at once)")
    ecc_for: ForDuration = Field("0s", description="how long uncorrectable ECC errors must recur (0s: at once)")
    throttle_for: ForDuration = Field("15m", description="how long thermal or power throttling must last to alert")
    gpu_sample_age_seconds: float = Field(
        60.0, gt=0, description="age of a GPU's values (seconds since NVML last answered) that opens a ticket"
    )
    gpu_sample_age_for: ForDuration = Field("5m", description="how long a GPU's values must stay stale to alert")
    vllm_target_down_for: ForDuration = Field("5m", description="how long a vLLM target must fail to page")
    gpu_exporter_down_for: ForDuration = Field("10m", description="how long a GPU exporter target must fail")
    metrics_absent_for: ForDuration = Field(
        "15m", description="how long all vLLM (or all GPU) series must be absent to open a ticket"
    )
    router_shed_ratio: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="share of a pool's requests the llm-d router sheds (HTTP 429: saturated, queue full or "
        "timed out) above which InferencePoolSheddingRequests pages",
    )
    router_shed_min_requests_per_second: float = Field(
        0.2, ge=0, description="requests per second to a pool (over 5 minutes) below which shedding is not judged"
    )
    router_shed_for: ForDuration = Field("5m", description="how long the router must keep shedding to page")
    slo_page_for: ForDuration = Field("2m", description="`for:` of every SLO's fast-burn page alert")
    slo_ticket_for: ForDuration = Field("15m", description="`for:` of every SLO's slow-burn ticket alert")
    slo_absent_for: ForDuration = Field("15m", description="how long an SLO's metrics must be absent to alert")
    slo_recording_gap_for: ForDuration = Field(
        "15m", description="how long an SLO's recording gap (or a stopped SLO rule group) must show to alert"
    )
    cost_recording_gap_for: ForDuration = Field(
        "15m",
        description="how long a gap in the cost rules' recording (or a stopped cost rule group) must show to alert",
    )
    application_xids: list[int] = Field(
        default_factory=lambda: list(DEFAULT_APPLICATION_XIDS),
        max_length=1000,
        description="Xid codes caused by applications, not hardware; they never raise the critical-Xid alert",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "runbook_base_url" in data:
            raise ValueError("runbook_base_url moved out of thresholds: set it at the top level of the file")
        return data

    @field_validator("application_xids")
    @classmethod
    def _sorted_unique_xids(cls, v: list[int]) -> list[int]:
        if any(x <= 0 or x > 1_000_000 for x in v):
            raise ValueError("Xid codes are positive integers")
        return sorted(set(v))
