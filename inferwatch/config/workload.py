"""The `workload:` section of inferwatch.yaml: the vLLM/KServe deployment the manifests describe.

`inferwatch build` turns it (with the `exporter:` section, which the sidecar reads) into the
manifests under deploy/workloads/: a plain vLLM Deployment, a KServe InferenceService and
LLMInferenceService with the inferwatch sidecar, and autoscaling on inferwatch's recorded series.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inferwatch import __version__

# RFC 1123 label: names of Deployments, Services, InferenceServices, namespaces.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# A Kubernetes label value: the served model name is one, because an HPA selects the model's
# external metric with a label selector (`model_name: <name>`), and the API server rejects a
# selector value such as "Qwen/Qwen2.5-1.5B-Instruct".
LABEL_VALUE_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
# RFC 1123 subdomain: names of cluster-scoped objects such as a DRA DeviceClass ("gpu.nvidia.com").
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# The DeviceClass NVIDIA's DRA driver for GPUs creates for whole GPUs.
NVIDIA_DRA_DEVICE_CLASS = "gpu.nvidia.com"


class AutoscalingSpec(BaseModel):
    """Scaling the model's replicas on queue depth per pod, guarded by KV-cache pressure."""

    model_config = ConfigDict(extra="forbid")

    min_replicas: int = Field(1, ge=1, description="fewest replicas (vLLM loads weights for minutes: never 0)")
    max_replicas: int = Field(4, ge=1, description="most replicas (GPUs are the budget)")
    waiting_requests_per_pod: float = Field(
        4.0, gt=0, description="target of requests waiting in vLLM's queue per pod; more queued adds replicas"
    )
    kv_cache_usage_ratio: float = Field(
        0.8,
        gt=0,
        le=1,
        description="target KV-cache usage per pod; replicas are kept so the model's KV caches stay under it",
    )
    fallback_replicas: int = Field(
        2, ge=1, description="replicas KEDA holds while Prometheus cannot answer (instead of scaling to the minimum)"
    )
    failure_threshold: int = Field(3, ge=1, description="failed KEDA polls in a row before the fallback applies")
    polling_interval_s: int = Field(15, ge=1, le=3600, description="how often KEDA queries Prometheus")
    scale_down_window_s: int = Field(
        300, ge=0, le=3600, description="a scale-down uses the highest replica count wanted over this many seconds"
    )
    prometheus_url: str = Field(
        "http://prometheus-operated.monitoring.svc:9090",
        pattern=r"^https?://",
        description="in-cluster Prometheus that evaluates inferwatch's rules (KEDA's serverAddress)",
    )
    signals_from: Literal["engines", "router"] = Field(
        "engines",
        description="where the scaling signals come from: the model's engines (vLLM or SGLang queues and KV "
        "caches), or the llm-d router's view of the model's InferencePool, which also counts requests it holds "
        "in its flow-control queues",
    )
    inference_pool: str | None = Field(
        None,
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="with signals_from: router, the InferencePool the router routes the model through "
        "(default: the workload's name)",
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas {self.max_replicas} is below min_replicas {self.min_replicas}")
        if not self.min_replicas <= self.fallback_replicas <= self.max_replicas:
            raise ValueError(
                f"fallback_replicas {self.fallback_replicas} must lie between min_replicas and max_replicas"
            )
        return self


class SidecarWebSpec(BaseModel):
    """The sidecars' web configuration (exporter-toolkit's file, TLS and basic auth), from a Secret."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(
        "",
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$",
        max_length=253,
        description="Secret in the model's namespace holding web-config.yml and the files it names by relative "
        "path (tls.crt, tls.key, a client CA); mounted into each sidecar. Empty: plain HTTP, no authentication",
    )
    config_key: str = Field("web-config.yml", min_length=1, description="key of the web configuration in the Secret")
    tls: bool = Field(False, description="the file enables TLS: the probes and the PodMonitor use https")
    ca_key: str = Field(
        "ca.crt", description="key of the CA in the Secret the LLMInferenceService's PodMonitor verifies with"
    )
    server_name: str = Field("", description="name the sidecars' certificate carries, for the PodMonitor")
    basic_auth_secret: str = Field(
        "", description="Secret (username, password) the LLMInferenceService's PodMonitor scrapes with; empty: none"
    )


class WorkloadSpec(BaseModel):
    """One model served by vLLM: what the plain, InferenceService and LLMInferenceService manifests run."""

    model_config = ConfigDict(extra="forbid")

    # KServe names the LLMInferenceService's certificate Secret <name>-kserve-self-signed-certs,
    # hashed beyond 63 characters; 38 keeps the name the sidecar mounts predictable.
    name: str = Field("qwen-chat", pattern=DNS_LABEL_PATTERN, max_length=38, description="name of every object")
    namespace: str = Field("llm", pattern=DNS_LABEL_PATTERN, description="namespace the model runs in")
    model: str = Field(
        "Qwen/Qwen2.5-1.5B-Instruct", min_length=1, description="model vLLM loads (Hugging Face id or path)"
    )
    model_uri: str = Field(
        "hf://Qwen/Qwen2.5-1.5B-Instruct", min_length=1, description="KServe storage URI of the same model"
    )
    served_model_name: str = Field(
        "qwen2.5-1.5b-instruct",
        pattern=LABEL_VALUE_PATTERN,
        description="--served-model-name: vLLM's `model_name` label and the autoscaler's selector",
    )
    vllm_image: str = Field("vllm/vllm-openai:v0.33.0", min_length=1, description="vLLM server image")
    exporter_image: str = Field(
        f"ghcr.io/inferwatch/inferwatch:{__version__}", min_length=1, description="inferwatch image (the sidecar)"
    )
    vllm_port: int = Field(8000, ge=1, le=65535, description="port vLLM serves the OpenAI API and /metrics on")
    gpus_per_pod: int = Field(
        1, ge=1, le=16, description="GPUs of the vLLM container (nvidia.com/gpu, or the count of its DRA claim)"
    )
    dra_device_class: str = Field(
        NVIDIA_DRA_DEVICE_CLASS,
        pattern=DNS_SUBDOMAIN_PATTERN,
        max_length=253,
        description="DeviceClass the GPUs of vllm/deployment-dra.yaml are claimed from (Dynamic Resource Allocation)",
    )
    replicas: int = Field(2, ge=1, description="replicas without an autoscaler (KEDA/HPA then owns the count)")
    monitor_labels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="labels of the LLMInferenceService's PodMonitor (the Prometheus's podMonitorSelector)",
    )
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    sidecar_web: SidecarWebSpec = Field(
        default_factory=SidecarWebSpec,
        description="who may read the sidecars' /metrics (the chart's monitoring.podMonitor scheme, tlsConfig and "
        "basicAuth must match for the plain Deployment)",
    )
