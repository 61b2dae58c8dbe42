"""Helpers of the Kubernetes tier: helm against the test cluster, fake GPU nodes, events, pods by hand."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from lightkube import Client
from lightkube.models.core_v1 import NodeAddress, NodeCondition, NodeSpec, NodeStatus, Taint
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event, Node
from lightkube.types import PatchType

from inferwatch.localstack.kube import KubeCluster

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "inferwatch"
WORKLOADS = REPO_ROOT / "deploy" / "workloads"
GPU_LABEL = "nvidia.com/gpu.present"


def helm(cluster: KubeCluster, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`helm <args>` against ``cluster`` (its kubeconfig; helm's own state in the cluster's workdir)."""
    home = cluster.workdir / "helm"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HELM_")},
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    argv = [str(cluster.tools.path("helm")), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def helm_ok(cluster: KubeCluster, *args: str) -> str:
    """`helm <args>` that must succeed; its stdout."""
    proc = helm(cluster, *args)
    assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stderr}\n{proc.stdout[-2000:]}"
    return proc.stdout


def add_gpu_node(kube: Client, name: str, address: str = "10.244.0.1", labels: Mapping[str, str] | None = None) -> Node:
    """Register a Ready node labelled as a GPU node (as GPU Feature Discovery does), with the GPU taint."""
    node = kube.create(
        Node(
            metadata=ObjectMeta(
                name=name, labels={GPU_LABEL: "true", "kubernetes.io/hostname": name, **(labels or {})}
            ),
            spec=NodeSpec(taints=[Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")]),
        )
    )
    status = NodeStatus(
        conditions=[NodeCondition(type="Ready", status="True", reason="KubeletReady", message="fake node")],
        addresses=[NodeAddress(type="InternalIP", address=address), NodeAddress(type="Hostname", address=name)],
        capacity={"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": "8"},
        allocatable={"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": "8"},
    )
    kube.patch(Node.Status, name, {"status": status.to_dict()}, patch_type=PatchType.MERGE)
    # The API server's TaintNodesByCondition admission adds node.kubernetes.io/not-ready at creation;
    # the node lifecycle controller, which would lift it, is off (see inferwatch.localstack.kube).
    taints = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    kube.patch(Node, name, {"spec": {"taints": taints}}, patch_type=PatchType.MERGE)
    return node


def events(kube: Client, namespace: str, reason: str = "") -> list[Event]:
    """The namespace's events (with ``reason``, when given)."""
    return [e for e in kube.list(Event, namespace=namespace) if not reason or e.reason == reason]


def messages(evts: list[Event]) -> str:
    return "\n".join(f"{e.reason}: {e.message}" for e in evts)


def ensure_namespace(kube: Client, name: str, labels: Mapping[str, str] | None = None) -> str:
    """The namespace ``name``, created (with ``labels``) unless it exists: shared by modules, e.g. `llm`."""
    from lightkube import ApiError
    from lightkube.resources.core_v1 import Namespace

    try:
        kube.create(Namespace(metadata=ObjectMeta(name=name, labels=dict(labels or {}))))
    except ApiError as err:
        if err.status.code != 409:
            raise
    return name
