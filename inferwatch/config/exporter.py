"""Exporter settings: the `exporter:` section of inferwatch.yaml (also set by CLI flags / env)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ExporterSettings(BaseModel):
    """How the exporter samples GPUs and vLLM and where it serves /metrics."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["sidecar", "daemonset"] = Field("sidecar", description="sidecar in a vLLM pod, or per-node DaemonSet")
    listen_host: str = Field("0.0.0.0", description="address the HTTP server binds")
    port: int = Field(9400, ge=1, le=65535, description="port of /metrics, /healthz, /readyz")
    gpu_backend: Literal["nvml", "simulated"] = Field(
        "nvml", description="nvml reads real GPUs; simulated must be asked for explicitly (demo, CI)"
    )
    sample_interval_s: float = Field(1.0, gt=0, le=60, description="fast NVML reads cadence")
    slow_sample_interval_s: float = Field(10.0, gt=0, le=600, description="energy/ECC/PCIe counters cadence")
    vllm_url: str | None = Field(None, description="vLLM /metrics URL (sidecar mode)")
    vllm_scrape_interval_s: float = Field(
        5.0, gt=0, le=300, description="how often the vLLM endpoint is scraped in the background"
    )
    vllm_timeout_s: float = Field(3.0, gt=0, le=60, description="time limit of one vLLM scrape, body included")
    vllm_max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="a larger vLLM /metrics body is refused (inferwatch_vllm_up 0)"
    )
    vllm_tls_verify: bool = Field(True, description="verify the vLLM endpoint's TLS certificate (https URLs)")
    vllm_ca_file: str | None = Field(None, description="CA bundle that signed the vLLM certificate (https URLs)")
    gpu_uuids: list[str] | None = Field(
        None, description="sidecar: the pod's GPU UUIDs; unset means every GPU NVML shows the container"
    )
    pod_namespace: str = Field("", description="sidecar: namespace of this pod (downward API), for attribution")
    pod_name: str = Field("", description="sidecar: name of this pod (downward API), for attribution")
    container_name: str = Field("", description="sidecar: the vLLM container whose GPUs are attributed")
    pod_resources_socket: str = Field(
        "/var/lib/kubelet/pod-resources/kubelet.sock",
        description="daemonset: kubelet pod-resources v1 socket; mount its directory so a kubelet restart is survived",
    )
    pod_resources_refresh_s: float = Field(
        10.0, gt=0, le=600, description="daemonset: how often GPU assignments are re-read from the kubelet"
    )
    pod_resources_timeout_s: float = Field(5.0, gt=0, le=60, description="daemonset: time limit of one kubelet call")
    web_config_file: str | None = Field(
        None,
        description="web configuration file of exporter-toolkit (--web.config.file: TLS, client certificates, "
        "basic_auth_users with bcrypt hashes), the same file node-exporter reads; /healthz and /readyz stay "
        "open to the kubelet's probes",
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP metrics endpoint (e.g. http://collector:4318/v1/metrics); unset: no push"
    )
    otlp_interval_s: float = Field(30.0, gt=0, le=3600, description="how often metrics are pushed over OTLP")
    simulated_gpus: int = Field(2, ge=1, le=64, description="number of fake GPUs of the simulated backend")
    simulated_nvml_latencies: bool = Field(
        True,
        description="simulated backend: each NVML call takes as long as on an H100 (docs/benchmarks.md), so the demo "
        "and the benchmark load the exporter as a real GPU would",
    )

    @field_validator("vllm_url", "otlp_endpoint")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v
