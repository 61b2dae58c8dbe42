"""KServe: an InferenceService (v1beta1) and an LLMInferenceService (v1alpha2) with the sidecar.

The InferenceService runs KServe's Hugging Face runtime on its vLLM backend (the OpenAI API and
vLLM's /metrics on port 8080) with the sidecar in the predictor; the Helm chart's PodMonitor
finds its pods by the sidecar label, which the predictor's `labels` put on them.

An LLMInferenceService serves vLLM over HTTPS on port 8000 with a self-signed certificate that
KServe keeps in the Secret `<name>-kserve-self-signed-certs` (its names include localhost), and
creates no monitor for a sidecar. The sidecar therefore mounts that certificate as its CA, reads
`https://localhost:8000/metrics`, and a PodMonitor written here scrapes the pods KServe creates.
In the disaggregated variant the decode pods run KServe's routing proxy on 8000 in front of vLLM
on 8001 (preset `kserve-config-llm-decode-template`), while prefill pods serve vLLM on 8000.
"""

from __future__ import annotations

from typing import Any

from inferwatch.config import InferwatchConfig
from inferwatch.workloads.pods import gpu_placement, gpu_resources, metadata, sidecar_pod_labels
from inferwatch.workloads.sidecar import (
    METRICS_PORT_NAME,
    CaBundle,
    sidecar_container,
    sidecar_settings,
    sidecar_web,
    web_endpoint,
)
from inferwatch.workloads.vllm import vllm_url

ISVC_CONTAINER = "kserve-container"
ISVC_PORT = 8080
LLMISVC_CONTAINER = "main"
LLMISVC_PORT = 8000
LLMISVC_DECODE_PORT_BEHIND_PROXY = 8001
LLMISVC_PART_OF = {"app.kubernetes.io/part-of": "llminferenceservice"}
# KServe's P/D role of a workload pod (prefill, decode or both), kept as a target label.
ROLE_LABEL = "llm-d.ai/role"
WORKLOAD_LABEL = "inferwatch.io/workload"


def kserve_labels(config: InferwatchConfig) -> dict[str, str]:
    """Labels of the objects handed to KServe: none of the app.kubernetes.io/* labels KServe sets itself."""
    return {WORKLOAD_LABEL: config.workload.name}


def inference_service(config: InferwatchConfig) -> dict[str, Any]:
    """InferenceService of the model on KServe's Hugging Face (vLLM) runtime, sidecar in the predictor."""
    spec = config.workload
    settings = sidecar_settings(config, vllm_url=vllm_url(ISVC_PORT), container_name=ISVC_CONTAINER)
    web = sidecar_web(config)
    predictor: dict[str, Any] = {
        "labels": sidecar_pod_labels(),
        "minReplicas": spec.replicas,
        "model": {
            "modelFormat": {"name": "huggingface"},
            "runtime": "kserve-huggingfaceserver",
            "storageUri": spec.model_uri,
            "args": [f"--model_name={spec.served_model_name}", "--backend=vllm"],
            "resources": gpu_resources(spec),
        },
        # A native sidecar needs the raw deployment mode (see the annotation below).
        "initContainers": [sidecar_container(settings, spec.exporter_image, native=True, web=web)],
        **gpu_placement({"serving.kserve.io/inferenceservice": spec.name}),
    }
    if web is not None:
        predictor["volumes"] = [web.volume_spec()]
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata(
            spec.name,
            spec,
            kserve_labels(config),
            # Knative (serverless mode) does not run init containers that keep running.
            annotations={"serving.kserve.io/deploymentMode": "RawDeployment"},
        ),
        "spec": {"predictor": predictor},
    }


def llmisvc_ca(config: InferwatchConfig) -> CaBundle:
    """KServe's self-signed serving certificate of one LLMInferenceService, as the sidecar's CA."""
    return CaBundle(
        volume="inferwatch-vllm-ca",
        secret=f"{config.workload.name}-kserve-self-signed-certs",
        key="tls.crt",
        mount_path="/etc/inferwatch/vllm-ca",
    )


def _llm_template(config: InferwatchConfig, vllm_port: int) -> dict[str, Any]:
    """A workload pod template: GPUs for KServe's `main` container, the sidecar reading it over HTTPS."""
    spec = config.workload
    ca = llmisvc_ca(config)
    settings = sidecar_settings(
        config,
        vllm_url=vllm_url(vllm_port, scheme="https", host="localhost"),
        container_name=LLMISVC_CONTAINER,
        ca=ca,
    )
    web = sidecar_web(config)
    return {
        # Merged by name with the preset's `main` container (image, args, TLS flags, probes).
        "containers": [{"name": LLMISVC_CONTAINER, "resources": gpu_resources(spec)}],
        "initContainers": [sidecar_container(settings, spec.exporter_image, native=True, ca=ca, web=web)],
        "volumes": [ca.volume_spec(), *([web.volume_spec()] if web is not None else [])],
        **gpu_placement({**LLMISVC_PART_OF, "app.kubernetes.io/name": spec.name}),
    }


def llm_inference_service(config: InferwatchConfig, *, disaggregated: bool) -> dict[str, Any]:
    """LLMInferenceService of the model; `disaggregated` adds prefill pods (P/D), each with a sidecar."""
    spec = config.workload
    # No sidecar label on these pods: the PodMonitor below scrapes them (keeping KServe's role
    # label), and the chart's PodMonitor, which selects by that label, would scrape them a second time.
    body: dict[str, Any] = {
        "model": {"uri": spec.model_uri, "name": spec.served_model_name},
        "replicas": spec.replicas,
        "template": _llm_template(config, LLMISVC_DECODE_PORT_BEHIND_PROXY if disaggregated else LLMISVC_PORT),
    }
    if disaggregated:
        body["prefill"] = {
            "replicas": spec.replicas,
            "template": _llm_template(config, LLMISVC_PORT),
        }
    body["router"] = {"route": {}, "gateway": {}, "scheduler": {}}
    return {
        "apiVersion": "serving.kserve.io/v1alpha2",
        "kind": "LLMInferenceService",
        "metadata": metadata(spec.name, spec, kserve_labels(config)),
        "spec": body,
    }


def llm_pod_monitor(config: InferwatchConfig) -> dict[str, Any]:
    """PodMonitor of the sidecars in the pods KServe creates for the LLMInferenceService."""
    spec = config.workload
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(f"{spec.name}-inferwatch", spec, {**kserve_labels(config), **spec.monitor_labels}),
        "spec": {
            # The scheduler's pods match too but have no sidecar port, so they yield no target.
            "selector": {"matchLabels": {**LLMISVC_PART_OF, "app.kubernetes.io/name": spec.name}},
            "podTargetLabels": [ROLE_LABEL],
            "podMetricsEndpoints": [
                # honorLabels: the sidecar's attribution labels (namespace, pod, container of the GPU
                # holder) and vLLM's own (model_name, engine) are kept, as the chart's monitors keep them.
                {
                    "port": METRICS_PORT_NAME,
                    "path": "/metrics",
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                    **web_endpoint(config),
                    "honorLabels": True,
                }
            ],
        },
    }
