"""Kubelet pod-resources: a real gRPC server of the v1 API on a unix socket, read by client and watcher."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from inferwatch.exporters import podresources_pb2 as pb
from inferwatch.exporters import podresources_pb2_grpc as pb_grpc
from inferwatch.exporters.attribution import AttributionCollector, daemonset_source
from inferwatch.exporters.podresources import (
    ContainerDevices,
    PodResourcesClient,
    PodResourcesCollector,
    PodResourcesWatcher,
)
from prometheus_client import CollectorRegistry

GPU_A = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
GPU_B = "GPU-bbbbbbbb-0000-4000-8000-000000000000"


@dataclass
class FakeKubelet(pb_grpc.PodResourcesListerServicer):
    """The kubelet side of the API: answers List and GetAllocatableResources from plain data."""

    pods: list[tuple[str, str, str, str, list[str]]]  # namespace, pod, container, resource, device ids
    allocatable: dict[str, list[str]] = field(default_factory=dict)

    def List(self, request: pb.ListPodResourcesRequest, context: grpc.ServicerContext) -> pb.ListPodResourcesResponse:
        resp = pb.ListPodResourcesResponse()
        for ns, pod, container, resource, ids in self.pods:
            p = resp.pod_resources.add(name=pod, namespace=ns)
            c = p.containers.add(name=container)
            c.devices.add(resource_name=resource, device_ids=ids)
        return resp

    def GetAllocatableResources(
        self, request: pb.AllocatableResourcesRequest, context: grpc.ServicerContext
    ) -> pb.AllocatableResourcesResponse:
        resp = pb.AllocatableResourcesResponse()
        for resource, ids in self.allocatable.items():
            resp.devices.add(resource_name=resource, device_ids=ids)
        return resp


def serve_kubelet(socket_path: Path, kubelet: FakeKubelet) -> grpc.Server:
    """Start a real gRPC server for `kubelet` on the unix socket `socket_path`."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_PodResourcesListerServicer_to_server(kubelet, server)
    server.add_insecure_port(f"unix://{socket_path}")
    server.start()
    return server


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """A socket path in a short directory (unix socket paths are limited to ~100 bytes)."""
    directory = tmp_path / "pod-resources"
    directory.mkdir()
    yield directory / "kubelet.sock"


def test_client_reads_gpu_assignments_only(socket_path: Path) -> None:
    kubelet = FakeKubelet(
        pods=[
            ("llm", "vllm-0", "vllm", "nvidia.com/gpu", [GPU_A]),
            ("llm", "vllm-0", "sidecar", "example.com/nic", ["nic0"]),
        ],
        allocatable={"nvidia.com/gpu": [GPU_A, GPU_B], "example.com/nic": ["nic0"]},
    )
    server = serve_kubelet(socket_path, kubelet)
    client = PodResourcesClient(socket_path, timeout_s=5)
    try:
        snap = client.read(now=1.0)
    finally:
        client.close()
        server.stop(None)
    assert snap.assignments == (ContainerDevices("llm", "vllm-0", "vllm", "nvidia.com/gpu", (GPU_A,)),)
    assert snap.allocatable == (GPU_A, GPU_B)


def test_watcher_survives_absent_socket_and_kubelet_restart(socket_path: Path) -> None:
    client = PodResourcesClient(socket_path, timeout_s=2)
    watcher = PodResourcesWatcher(client, refresh_s=60)
    registry = CollectorRegistry()
    registry.register(PodResourcesCollector(watcher))
    registry.register(AttributionCollector(daemonset_source(watcher.snapshot, lambda: None)))
    servers: list[grpc.Server] = []
    try:
        # No kubelet yet: not up, no allocations, but the first attempt counts for readiness.
        assert not watcher.refresh_once()
        assert watcher.attempted and watcher.snapshot() is None
        assert registry.get_sample_value("inferwatch_podresources_up") == 0

        servers.append(serve_kubelet(socket_path, FakeKubelet(pods=[("a", "p1", "c", "nvidia.com/gpu", [GPU_A])])))
        assert watcher.refresh_once()
        labels = {"gpu_uuid": GPU_A, "namespace": "a", "pod": "p1", "container": "c", "source": "kubelet"}
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) == 1
        assert registry.get_sample_value("inferwatch_podresources_up") == 1

        # Kubelet restart: the socket disappears (the last assignments are kept, up is 0) ...
        servers.pop().stop(None)
        socket_path.unlink(missing_ok=True)
        assert not watcher.refresh_once()
        assert registry.get_sample_value("inferwatch_podresources_up") == 0
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) == 1
        # ... and comes back as a new socket with new assignments, picked up on the next refresh.
        servers.append(serve_kubelet(socket_path, FakeKubelet(pods=[("b", "p2", "c", "nvidia.com/gpu", [GPU_B])])))
        assert watcher.refresh_once()
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", labels) is None
        new = {"gpu_uuid": GPU_B, "namespace": "b", "pod": "p2", "container": "c", "source": "kubelet"}
        assert registry.get_sample_value("inferwatch_gpu_allocation_ratio", new) == 1
    finally:
        watcher.stop()
        for s in servers:
            s.stop(None)


def test_background_watcher_notices_recreated_socket(socket_path: Path) -> None:
    server = serve_kubelet(socket_path, FakeKubelet(pods=[("a", "p1", "c", "nvidia.com/gpu", [GPU_A])]))
    watcher = PodResourcesWatcher(PodResourcesClient(socket_path, timeout_s=2), refresh_s=3600)
    servers = [server]
    try:
        watcher.start()
        first = watcher.snapshot()
        assert first is not None and first.assignments[0].pod == "p1"
        servers.pop().stop(None)
        socket_path.unlink(missing_ok=True)
        servers.append(serve_kubelet(socket_path, FakeKubelet(pods=[("a", "p9", "c", "nvidia.com/gpu", [GPU_A])])))
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
        for s in servers:
            s.stop(None)


class OldKubelet(FakeKubelet):
    """A kubelet without GetAllocatableResources (before 1.23, or the feature gate off)."""

    def GetAllocatableResources(
        self, request: pb.AllocatableResourcesRequest, context: grpc.ServicerContext
    ) -> pb.AllocatableResourcesResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "unknown method GetAllocatableResources")
        raise AssertionError("abort raises")


def test_kubelet_without_allocatable_still_attributes(socket_path: Path) -> None:
    server = serve_kubelet(socket_path, OldKubelet(pods=[("a", "p1", "c", "nvidia.com/gpu", [f"{GPU_A}::3"])]))
    client = PodResourcesClient(socket_path, timeout_s=5)
    try:
        snap = client.read(now=1.0)
    finally:
        client.close()
        server.stop(None)
    assert snap.allocatable == ()
    assert snap.assignments[0].device_ids == (f"{GPU_A}::3",)
