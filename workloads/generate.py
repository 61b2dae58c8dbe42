"""The artifacts of the workloads area: vLLM/KServe manifests with the sidecar, and autoscaling.

`artifacts(config)` is the one entry of inferwatch.app.generators' GENERATORS. Pure: every file is a
function of the `workload:` and `exporter:` sections of the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inferwatch.artifacts import Artifact, ArtifactKind, generated_header, prometheus_rule_labels
from inferwatch.config import InferwatchConfig
from inferwatch.rules import RuleFile, dump_yaml, to_prometheus_rule, to_prometheus_yaml
from inferwatch.workloads import autoscaling, dra, kserve, vllm

WORKLOADS_DIR = "deploy/workloads"
COMMAND = "inferwatch build"
SOURCE = "the workload: and exporter: sections of inferwatch.yaml"
# What the autoscaling rules' header names as their source.
AUTOSCALING_SOURCE = "workloads/autoscaling.py"


def render_documents(documents: Sequence[dict[str, Any]], header: str) -> str:
    """Kubernetes objects as one multi-document YAML file."""
    return header + "---\n".join(dump_yaml(doc) for doc in documents)


def _manifest(path: str, what: str, documents: Sequence[dict[str, Any]], note: str = "") -> Artifact:
    header = generated_header(what, SOURCE, COMMAND) + note
    return Artifact(f"{WORKLOADS_DIR}/{path}", render_documents(documents, header), ArtifactKind.KUBERNETES)


def manifests(config: InferwatchConfig) -> list[Artifact]:
    """Every Kubernetes manifest of the area (each validated by kubeconform in `inferwatch build`)."""
    rules = RuleFile((autoscaling.autoscaling_group(),))
    return [
        _manifest(
            "vllm/deployment.yaml",
            "vLLM Deployment + Service, native sidecar",
            [vllm.deployment(config, native_sidecar=True), vllm.service(config)],
            "# Needs Kubernetes >= 1.29 (native sidecars); deployment-sidecar-container.yaml otherwise.\n",
        ),
        _manifest(
            "vllm/deployment-sidecar-container.yaml",
            "vLLM Deployment + Service, sidecar as a plain container",
            [vllm.deployment(config, native_sidecar=False), vllm.service(config)],
            "# For Kubernetes < 1.29: the exporter is a second container; it may stop before vLLM does.\n",
        ),
        _manifest(
            "vllm/deployment-dra.yaml",
            "vLLM Deployment + Service + ResourceClaimTemplate, GPUs through Dynamic Resource Allocation",
            [
                dra.resource_claim_template(config.workload),
                vllm.deployment(config, native_sidecar=True, dra_claim=True),
                vllm.service(config),
            ],
            "# Needs Kubernetes >= 1.34 (resource.k8s.io/v1) and NVIDIA's DRA driver for GPUs (DeviceClass\n"
            f"# {config.workload.dra_device_class}). vLLM and the sidecar share the pod's claim: the sidecar sees\n"
            "# exactly the pod's GPUs, without NVIDIA_VISIBLE_DEVICES=all.\n",
        ),
        _manifest("kserve/inferenceservice.yaml", "KServe InferenceService", [kserve.inference_service(config)]),
        _manifest(
            "kserve/llminferenceservice.yaml",
            "KServe LLMInferenceService + PodMonitor",
            [kserve.llm_inference_service(config, disaggregated=False), kserve.llm_pod_monitor(config)],
        ),
        _manifest(
            "kserve/llminferenceservice-pd.yaml",
            "KServe LLMInferenceService, prefill/decode disaggregated, + PodMonitor",
            [kserve.llm_inference_service(config, disaggregated=True), kserve.llm_pod_monitor(config)],
        ),
        Artifact(
            f"{WORKLOADS_DIR}/autoscaling/prometheusrule.yaml",
            to_prometheus_rule(
                rules,
                "inferwatch-autoscaling",
                prometheus_rule_labels("autoscaling", config.rule_labels),
                generated_header("autoscaling rules", AUTOSCALING_SOURCE, COMMAND),
            ),
            ArtifactKind.KUBERNETES,
        ),
        _manifest("autoscaling/keda-scaledobject.yaml", "KEDA ScaledObject", [autoscaling.scaled_object(config)]),
        _manifest(
            "autoscaling/hpa.yaml",
            "HorizontalPodAutoscaler on prometheus-adapter external metrics",
            [autoscaling.horizontal_pod_autoscaler(config)],
            "# Needs prometheus-adapter with the rules of prometheus-adapter-values.yaml.\n",
        ),
    ]


def artifacts(config: InferwatchConfig) -> list[Artifact]:
    """Every generated file of the workloads area."""
    rules = RuleFile((autoscaling.autoscaling_group(),))
    return [
        *manifests(config),
        Artifact(
            f"{WORKLOADS_DIR}/autoscaling/rules.yaml",
            to_prometheus_yaml(rules, generated_header("autoscaling rules", AUTOSCALING_SOURCE, COMMAND)),
            ArtifactKind.PROMETHEUS_RULES,
        ),
        Artifact(
            f"{WORKLOADS_DIR}/autoscaling/prometheus-adapter-values.yaml",
            generated_header("prometheus-adapter rules", SOURCE, COMMAND)
            + "# Helm values of prometheus-community/prometheus-adapter: the external metrics hpa.yaml reads.\n"
            + dump_yaml({"rules": {"default": False, **autoscaling.adapter_rules(config.workload)}}),
            ArtifactKind.DOCUMENT,
        ),
    ]
