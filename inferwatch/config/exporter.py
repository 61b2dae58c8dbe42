"""Exporter settings: the `exporter:` section of inferwatch.yaml (also set by CLI flags / env)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExporterSettings(BaseModel):
    """How the exporter samples GPUs and vLLM and where it serves /metrics."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["sidecar", "daemonset"] = Field("sidecar", description="sidecar in a vLLM pod, or per-node DaemonSet")
    listen_host: str = Field("0.0.0.0", description="address the HTTP server binds")
    port: int = Field(9400, ge=1, le=65535, description="port of /metrics, /healthz, /readyz")
    gpu_backend: Literal["nvml", "simulated"] = Field(
        "nvml", description="nvml reads real GPUs; simulated must be asked for explicitly (demo, CI)"
    )
    sample_interval_s: float = Field(1.0, gt=0, le=60, description="fast NVML reads cadence")
    slow_sample_interval_s: float = Field(10.0, gt=0, le=600, description="energy/ECC/PCIe counters cadence")
    vllm_url: str | None = Field(None, description="vLLM /metrics URL (sidecar mode)")
