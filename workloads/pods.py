"""What every vLLM pod of these manifests shares: GPU placement, labels and object metadata."""

from __future__ import annotations

from typing import Any

from inferwatch.config.workload import WorkloadSpec
from inferwatch.workloads.sidecar import SIDECAR_LABEL

GPU_RESOURCE = "nvidia.com/gpu"
# Set by NVIDIA GPU feature discovery (GPU operator) on nodes that have a GPU.
GPU_NODE_LABEL = "nvidia.com/gpu.present"
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"


def app_labels(spec: WorkloadSpec, component: str) -> dict[str, str]:
    """Recommended labels of every object of one workload."""
    return {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "inferwatch-workloads",
    }


def sidecar_pod_labels() -> dict[str, str]:
    """The label the Helm chart's PodMonitor selects pods carrying the sidecar by."""
    return {SIDECAR_LABEL: "true"}


def metadata(name: str, spec: WorkloadSpec, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    """Object metadata in the workload's namespace."""
    return {"name": name, "namespace": spec.namespace, "labels": labels, **extra}


def gpu_resources(spec: WorkloadSpec, claims: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Resources of the vLLM container: its GPUs (requests equal limits for extended resources).

    With `claims` (Dynamic Resource Allocation) the GPUs come from the pod's claim instead of
    the device plugin's `nvidia.com/gpu`.
    """
    if claims is not None:
        return {"requests": {"cpu": "4", "memory": "24Gi"}, "limits": {"memory": "48Gi"}, "claims": claims}
    gpus = str(spec.gpus_per_pod)
    return {
        "requests": {"cpu": "4", "memory": "24Gi", GPU_RESOURCE: gpus},
        "limits": {"memory": "48Gi", GPU_RESOURCE: gpus},
    }


def gpu_placement(match_labels: dict[str, str], *, node_selector: bool = True) -> dict[str, Any]:
    """Node selector and toleration of GPU nodes, and replicas spread over nodes.

    The anti-affinity is preferred, not required: a model scaled past the number of GPU nodes
    still schedules, and one node's loss never takes every replica. Without `node_selector`
    (DRA: the scheduler places the pod where its claim's devices are) only the toleration and
    the spread remain.
    """
    placement: dict[str, Any] = {"nodeSelector": {GPU_NODE_LABEL: "true"}} if node_selector else {}
    return placement | {
        "tolerations": [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": match_labels},
                            "topologyKey": HOSTNAME_TOPOLOGY,
                        },
                    }
                ]
            }
        },
    }
