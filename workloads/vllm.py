"""Plain vLLM: a Deployment running `vllm serve` with the inferwatch sidecar, and its Service.

Variants of one pod: the sidecar as a native sidecar (an init container with
`restartPolicy: Always`, Kubernetes ≥ 1.29: it starts before vLLM and stops after it, so the
last scrape of a terminating pod still happens) and, for older clusters, as a plain second
container. A third takes the GPUs through Dynamic Resource Allocation instead of the device
plugin (inferwatch.workloads.dra): vLLM and the sidecar share the pod's claim, so the sidecar
sees the pod's GPUs and no others.
"""

from __future__ import annotations

from typing import Any

from inferwatch.config import InferwatchConfig
from inferwatch.workloads import dra
from inferwatch.workloads.pods import app_labels, gpu_placement, gpu_resources, metadata, sidecar_pod_labels
from inferwatch.workloads.sidecar import sidecar_container, sidecar_settings, sidecar_web

VLLM_CONTAINER = "vllm"
VLLM_PORT_NAME = "http"


def vllm_url(port: int, scheme: str = "http", host: str = "127.0.0.1") -> str:
    """The URL of vLLM's /metrics seen from a container of the same pod."""
    return f"{scheme}://{host}:{port}/metrics"


def vllm_container(config: InferwatchConfig, *, dra_claim: bool = False) -> dict[str, Any]:
    """`vllm serve` of the configured model, ready when /health answers; `dra_claim`: GPUs from the pod's claim."""
    spec = config.workload
    health = {"httpGet": {"path": "/health", "port": VLLM_PORT_NAME}}
    return {
        "name": VLLM_CONTAINER,
        "image": spec.vllm_image,
        "command": ["vllm", "serve"],
        "args": [
            spec.model,
            "--served-model-name",
            spec.served_model_name,
            "--host",
            "0.0.0.0",
            "--port",
            str(spec.vllm_port),
        ],
        "ports": [{"name": VLLM_PORT_NAME, "containerPort": spec.vllm_port, "protocol": "TCP"}],
        "resources": gpu_resources(spec, dra.container_claims() if dra_claim else None),
        # Loading weights and compiling CUDA graphs takes minutes: the startup probe allows 20,
        # after which readiness and liveness take over at their normal pace.
        "startupProbe": {**health, "periodSeconds": 10, "failureThreshold": 120},
        "readinessProbe": {**health, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**health, "periodSeconds": 15, "failureThreshold": 4},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }


def deployment(config: InferwatchConfig, *, native_sidecar: bool, dra_claim: bool = False) -> dict[str, Any]:
    """The vLLM Deployment with the exporter as a native sidecar or as a plain container.

    `dra_claim`: the pod claims its GPUs from the workload's ResourceClaimTemplate
    (dra.resource_claim_template) and both containers list that claim.
    """
    spec = config.workload
    selector = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": spec.name}
    settings = sidecar_settings(config, vllm_url=vllm_url(spec.vllm_port), container_name=VLLM_CONTAINER)
    claims = dra.container_claims() if dra_claim else None
    web = sidecar_web(config)
    sidecar = sidecar_container(settings, spec.exporter_image, native=native_sidecar, gpu_claims=claims, web=web)
    pod_spec: dict[str, Any] = {}
    if native_sidecar:
        pod_spec["initContainers"] = [sidecar]
        pod_spec["containers"] = [vllm_container(config, dra_claim=dra_claim)]
    else:
        pod_spec["containers"] = [vllm_container(config, dra_claim=dra_claim), sidecar]
    if dra_claim:
        pod_spec["resourceClaims"] = dra.pod_resource_claims(spec)
    # With DRA the scheduler places the pod where its claim's devices are: no GPU node label needed.
    pod_spec |= gpu_placement(selector, node_selector=not dra_claim)
    pod_spec |= {
        "terminationGracePeriodSeconds": 120,
        # vLLM's workers exchange tensors through shared memory; the default 64 MiB is too small.
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}},
            *([web.volume_spec()] if web is not None else []),
        ],
    }
    labels = app_labels(spec, "model-server")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec.name, spec, labels),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            # One GPU pod at a time: a surge pod would wait for a free GPU anyway.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {**labels, **sidecar_pod_labels()}}, "spec": pod_spec},
        },
    }


def service(config: InferwatchConfig) -> dict[str, Any]:
    """The Service clients send OpenAI API requests to (the sidecar's port is scraped per pod, not here)."""
    spec = config.workload
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.name, spec, app_labels(spec, "model-server")),
        "spec": {
            "selector": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": spec.name},
            "ports": [{"name": VLLM_PORT_NAME, "port": spec.vllm_port, "targetPort": VLLM_PORT_NAME}],
        },
    }
