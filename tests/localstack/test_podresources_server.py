"""The local kubelet speaks the real pod-resources v1 protocol: the exporter's own client reads it."""

from __future__ import annotations

from pathlib import Path

from inferwatch.exporters.podresources import ContainerDevices, PodResourcesClient
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer

GPU_A = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
GPU_B = "GPU-bbbbbbbb-0000-4000-8000-000000000000"
MIG = "MIG-01000000-0000-4000-8000-000000000000"


def test_the_exporters_client_reads_exclusive_time_sliced_and_mig_devices(tmp_path: Path) -> None:
    node = NodeAllocation(
        assignments=(
            ContainerDevices("team-a", "chat-0", "vllm", GPU_RESOURCE, (GPU_A,)),
            ContainerDevices("team-b", "search-0", "vllm", GPU_RESOURCE, (f"{GPU_B}::0", f"{GPU_B}::1")),
            ContainerDevices("team-b", "rerank-0", "reranker", GPU_RESOURCE, (MIG,)),
        ),
        allocatable={GPU_RESOURCE: (GPU_A, f"{GPU_B}::0", f"{GPU_B}::1", f"{GPU_B}::2", f"{GPU_B}::3", MIG)},
    )
    socket = tmp_path / "pr" / "kubelet.sock"
    server = PodResourcesServer(socket, node)
    client = PodResourcesClient(socket, timeout_s=5)
    try:
        snap = client.read(now=1.0)
    finally:
        client.close()
        server.stop()
    assert snap.assignments == node.assignments
    assert snap.allocatable == node.allocatable[GPU_RESOURCE]
    assert not socket.exists(), "stop() removes the socket"
