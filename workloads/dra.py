"""GPUs through Dynamic Resource Allocation (resource.k8s.io/v1, Kubernetes ≥ 1.34).

The pod names one ResourceClaim, made per pod from a ResourceClaimTemplate that asks the
configured DeviceClass (NVIDIA's DRA driver creates `gpu.nvidia.com`) for `gpus_per_pod` GPUs.
Every container that lists the claim under `resources.claims` gets the same allocated devices,
so the sidecar and vLLM see exactly the pod's GPUs: no `nvidia.com/gpu` request, and no
`NVIDIA_VISIBLE_DEVICES=all` that would show the sidecar every GPU of the node.
"""

from __future__ import annotations

from typing import Any

from inferwatch.config.workload import WorkloadSpec
from inferwatch.workloads.pods import app_labels, metadata

DRA_API_VERSION = "resource.k8s.io/v1"
# The claim's name inside the pod (pod.spec.resourceClaims[].name), which containers list.
GPU_CLAIM = "gpu"
# The one device request of the claim.
GPU_REQUEST = "gpu"


def claim_template_name(spec: WorkloadSpec) -> str:
    """Name of the workload's ResourceClaimTemplate."""
    return f"{spec.name}-gpus"


def resource_claim_template(spec: WorkloadSpec) -> dict[str, Any]:
    """The template each pod's GPU claim is made from: `gpus_per_pod` devices of the DeviceClass."""
    request = {
        "name": GPU_REQUEST,
        "exactly": {
            "deviceClassName": spec.dra_device_class,
            "allocationMode": "ExactCount",
            "count": spec.gpus_per_pod,
        },
    }
    return {
        "apiVersion": DRA_API_VERSION,
        "kind": "ResourceClaimTemplate",
        "metadata": metadata(claim_template_name(spec), spec, app_labels(spec, "model-server")),
        "spec": {"spec": {"devices": {"requests": [request]}}},
    }


def pod_resource_claims(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """pod.spec.resourceClaims: the pod's GPU claim, made from the workload's template."""
    return [{"name": GPU_CLAIM, "resourceClaimTemplateName": claim_template_name(spec)}]


def container_claims() -> list[dict[str, Any]]:
    """A container's resources.claims: the whole GPU claim of the pod."""
    return [{"name": GPU_CLAIM}]
