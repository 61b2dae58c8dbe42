"""A local kubelet: the pod-resources v1 gRPC API on a unix socket, answering from plain data.

The DaemonSet exporter reads which container holds which GPU from the kubelet's
`/var/lib/kubelet/pod-resources/kubelet.sock`. Outside Kubernetes there is no kubelet, so the
demo serves the same API (the vendored `podresources_pb2*` stubs, the real protocol) from a
`NodeAllocation`: exclusive GPU UUIDs, time-slice replicas `GPU-…::N` and MIG UUIDs, exactly as
the NVIDIA device plugin hands them to the kubelet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from inferwatch.exporters import podresources_pb2 as _pb2
from inferwatch.exporters import podresources_pb2_grpc as _pb2_grpc

log = logging.getLogger(__name__)

# Generated code builds its classes from descriptors at import time; mypy cannot see them.
pb2: Any = _pb2
pb2_grpc: Any = _pb2_grpc

GPU_RESOURCE = "nvidia.com/gpu"
# Unix socket paths are limited to 108 bytes (sun_path).
MAX_SOCKET_PATH = 100


class SocketPathTooLongError(ValueError):
    """The socket path does not fit a unix socket address."""


@dataclass(frozen=True)
class ContainerAssignment:
    """The device IDs of one resource the kubelet assigned to one container."""

    namespace: str
    pod: str
    container: str
    device_ids: tuple[str, ...]
    resource: str = GPU_RESOURCE


@dataclass(frozen=True)
class NodeAllocation:
    """What the kubelet of one node says: assignments, and every allocatable device ID per resource."""

    assignments: tuple[ContainerAssignment, ...]
    allocatable: tuple[str, ...]
    resource: str = GPU_RESOURCE


class _Lister(pb2_grpc.PodResourcesListerServicer):  # type: ignore[misc]
    """The kubelet side of List and GetAllocatableResources (Get is left unimplemented, as on old kubelets)."""

    def __init__(self, node: NodeAllocation) -> None:
        self._node = node

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Every pod of the node with its containers' devices."""
        resp = pb2.ListPodResourcesResponse()
        pods: dict[tuple[str, str], Any] = {}
        for a in self._node.assignments:
            pod = pods.get((a.namespace, a.pod))
            if pod is None:
                pod = resp.pod_resources.add(name=a.pod, namespace=a.namespace)
                pods[(a.namespace, a.pod)] = pod
            container = pod.containers.add(name=a.container)
            container.devices.add(resource_name=a.resource, device_ids=list(a.device_ids))
        return resp

    def GetAllocatableResources(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Every device ID the node can hand out."""
        resp = pb2.AllocatableResourcesResponse()
        resp.devices.add(resource_name=self._node.resource, device_ids=list(self._node.allocatable))
        return resp


class PodResourcesServer:
    """A running pod-resources gRPC server on a unix socket; `stop()` removes the socket."""

    def __init__(self, socket_path: Path, node: NodeAllocation) -> None:
        """Start serving ``node`` on ``socket_path`` (its folder is created; a stale socket is replaced)."""
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise SocketPathTooLongError(
                f"{socket_path}: a unix socket path must be at most {MAX_SOCKET_PATH} bytes long"
            )
        self.socket_path = socket_path
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        socket_path.unlink(missing_ok=True)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb2_grpc.add_PodResourcesListerServicer_to_server(_Lister(node), self._server)
        self._server.add_insecure_port(f"unix://{socket_path}")
        self._server.start()
        log.info("pod-resources server (local kubelet) on unix://%s: %d assignment(s), %d allocatable device(s)",
                 socket_path, len(node.assignments), len(node.allocatable))  # fmt: skip

    def stop(self) -> None:
        """Stop serving and remove the socket."""
        self._server.stop(grace=None)
        self.socket_path.unlink(missing_ok=True)


def time_slice_replicas(gpu_uuid: str, replicas: int) -> tuple[str, ...]:
    """The device IDs the NVIDIA device plugin advertises for a GPU shared by ``replicas`` time slices."""
    return tuple(f"{gpu_uuid}::{i}" for i in range(replicas))


def allocatable_ids(
    exclusive: Sequence[str], shared: Sequence[tuple[str, int]], migs: Sequence[str]
) -> tuple[str, ...]:
    """Every allocatable device ID of a node: whole GPUs, time-slice replicas and MIG instances."""
    ids = list(exclusive)
    for uuid, n in shared:
        ids.extend(time_slice_replicas(uuid, n))
    ids.extend(migs)
    return tuple(ids)
