"""Kubelet pod-resources: the local kubelet (the real v1 gRPC API on a unix socket), read by client and watcher."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from inferwatch.exporters.attribution import AttributionCollector, daemonset_source
from inferwatch.exporters.podresources import (
    ContainerDevices,
    PodResourcesClient,
    PodResourcesCollector,
    PodResourcesWatcher,
)
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer

GPU_A = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
GPU_B = "GPU-bbbbbbbb-0000-4000-8000-000000000000"


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """A socket path in a short directory (unix socket paths are limited to ~100 bytes)."""
    directory = tmp_path / "pod-resources"
    directory.mkdir()
    yield directory / "kubelet.sock"


def test_client_reads_gpu_assignments_only(socket_path: Path) -> None:
    node = NodeAllocation(
        assignments=(
            ContainerDevices("llm", "vllm-0", "vllm", GPU_RESOURCE, (GPU_A,)),
            ContainerDevices("llm", "vllm-0", "sidecar", "example.com/nic", ("nic0",)),
        ),
        allocatable={"nvidia.com/gpu": (GPU_A, GPU_B), "example.com/nic": ("nic0",)},
    )
    server = PodResourcesServer(socket_path, node)
    client = PodResourcesClient(socket_path, timeout_s=5)
    try:
        snap = client.read(now=1.0)
    finally:
        client.close()
        server.stop()
    assert snap.assignments == (ContainerDevices("llm", "vllm-0", "vllm", "nvidia.com/gpu", (GPU_A,)),)
    assert snap.allocatable == (GPU_A, GPU_B)


def _holding(namespace: str, pod: str, device_id: str) -> NodeAllocation:
    """A node where container ``c`` of one pod holds one GPU device."""
    return NodeAllocation((ContainerDevices(namespace, pod, "c", GPU_RESOURCE, (device_id,)),))


def test_watcher_survives_absent_socket_and_kubelet_restart(socket_path: Path) -> None:
    client = PodResourcesClient(socket_path, timeout_s=2)
    watcher = PodResourcesWatcher(client, refresh_s=60)
    registry = CollectorRegistry()
    registry.register(PodResourcesCollector(watcher))
    registry.register(AttributionCollector(daemonset_source(watcher.snapshot, lambda: None)))
    kubelet: PodResourcesServer | None = None
    try:
        # No kubelet yet: not up, no allocations, but the first attempt counts for readiness.
        assert not watcher.refresh_once()
        assert watcher.attempted and watcher.snapshot() is None
        assert registry.get_sample_value("inferwatch_podresources_up") == 0

        kubelet = PodResourcesServer(socket_path, _holding("a", "p1", GPU_A))
        assert watcher.refresh_once()
        labels = {"gpu_uuid": GPU_A, "namespace": "a", "pod": "p1", "container": "c", "source": "kubelet"}
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) == 1
        assert registry.get_sample_value("inferwatch_podresources_up") == 1

        # Kubelet restart: the socket disappears (the last assignments are kept, up is 0) ...
        kubelet.stop()
        assert not socket_path.exists()
        assert not watcher.refresh_once()
        assert registry.get_sample_value("inferwatch_podresources_up") == 0
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) == 1
        # ... and comes back as a new socket with new assignments, picked up on the next refresh.
        kubelet.restart(_holding("b", "p2", GPU_B))
        assert watcher.refresh_once()
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) is None
        new = {"gpu_uuid": GPU_B, "namespace": "b", "pod": "p2", "container": "c", "source": "kubelet"}
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", new) == 1
    finally:
        watcher.stop()
        if kubelet is not None:
            kubelet.stop()


def test_background_watcher_notices_recreated_socket(socket_path: Path) -> None:
    kubelet = PodResourcesServer(socket_path, _holding("a", "p1", GPU_A))
    watcher = PodResourcesWatcher(PodResourcesClient(socket_path, timeout_s=2), refresh_s=3600)
    try:
        watcher.start()
        first = watcher.snapshot()
        assert first is not None and first.assignments[0].pod == "p1"
        kubelet.restart(_holding("a", "p9", GPU_A))
        # The refresh timer is an hour: only the socket watch can bring the new pod in.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snap = watcher.snapshot()
            if snap is not None and snap.assignments and snap.assignments[0].pod == "p9":
                break
            time.sleep(0.1)
        snap = watcher.snapshot()
        assert snap is not None and snap.assignments[0].pod == "p9", snap
        assert watcher.up
    finally:
        watcher.stop()
        kubelet.stop()


def test_kubelet_without_allocatable_still_attributes(socket_path: Path) -> None:
    # A kubelet without GetAllocatableResources (before 1.23, or the feature gate off) answers UNIMPLEMENTED;
    # the replicas it would list are never seen.
    replicas = {"nvidia.com/gpu": tuple(f"{GPU_A}::{i}" for i in range(4))}
    node = NodeAllocation((ContainerDevices("a", "p1", "c", GPU_RESOURCE, (f"{GPU_A}::3",)),), replicas)
    kubelet = PodResourcesServer(socket_path, node, allocatable_call=False)
    client = PodResourcesClient(socket_path, timeout_s=5)
    try:
        snap = client.read(now=1.0)
    finally:
        client.close()
        kubelet.stop()
    assert snap.allocatable == ()
    assert snap.assignments[0].device_ids == (f"{GPU_A}::3",)
