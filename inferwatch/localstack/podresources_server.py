"""A local kubelet: the pod-resources v1 gRPC API on a unix socket, answering from plain data.

The DaemonSet exporter reads which container holds which device from the kubelet's
`/var/lib/kubelet/pod-resources/kubelet.sock`. Outside Kubernetes there is no kubelet, so the
local stack serves the same API (the vendored `podresources_pb2*` stubs, the real protocol) from a
`NodeAllocation`: exclusive GPU UUIDs, time-slice replicas `GPU-…::N` and MIG UUIDs, exactly as
the NVIDIA device plugin hands them to the kubelet. The demo's node runs on it, and the tests use
it for what a real kubelet does to its clients: restart (the socket is removed and recreated, see
`restart`) and, before Kubernetes 1.23, answer `GetAllocatableResources` with UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from inferwatch.exporters import podresources_pb2 as _pb2
from inferwatch.exporters import podresources_pb2_grpc as _pb2_grpc
from inferwatch.exporters.podresources import ContainerDevices

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
class NodeAllocation:
    """What the kubelet of one node says: assignments (as its clients read them), allocatable IDs by resource."""

    assignments: tuple[ContainerDevices, ...]
    allocatable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class _Lister(pb2_grpc.PodResourcesListerServicer):  # type: ignore[misc]
    """The kubelet side of List and GetAllocatableResources (Get is left unimplemented, as on old kubelets)."""

    def __init__(self, node: NodeAllocation, *, allocatable_call: bool) -> None:
        self._node = node
        self._allocatable_call = allocatable_call

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Every pod of the node with its containers' devices, one entry per pod and per container."""
        resp = pb2.ListPodResourcesResponse()
        pods: dict[tuple[str, str], Any] = {}
        containers: dict[tuple[str, str, str], Any] = {}
        for a in self._node.assignments:
            pod = pods.get((a.namespace, a.pod))
            if pod is None:
                pod = pods[(a.namespace, a.pod)] = resp.pod_resources.add(name=a.pod, namespace=a.namespace)
            container = containers.get((a.namespace, a.pod, a.container))
            if container is None:
                container = containers[(a.namespace, a.pod, a.container)] = pod.containers.add(name=a.container)
            container.devices.add(resource_name=a.resource_name, device_ids=list(a.device_ids))
        return resp

    def GetAllocatableResources(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Every device ID the node can hand out; UNIMPLEMENTED as from a kubelet before 1.23."""
        if not self._allocatable_call:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "unknown method GetAllocatableResources")
        resp = pb2.AllocatableResourcesResponse()
        for resource, ids in self._node.allocatable.items():
            resp.devices.add(resource_name=resource, device_ids=list(ids))
        return resp


class PodResourcesServer:
    """A running pod-resources gRPC server on a unix socket; `stop()` removes the socket."""

    def __init__(self, socket_path: Path, node: NodeAllocation, *, allocatable_call: bool = True) -> None:
        """Start serving ``node`` on ``socket_path`` (its folder is created; a stale socket is replaced).

        ``allocatable_call=False`` answers GetAllocatableResources with UNIMPLEMENTED, as kubelets
        before 1.23 (or with the feature gate off) do.
        """
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise SocketPathTooLongError(
                f"{socket_path}: a unix socket path must be at most {MAX_SOCKET_PATH} bytes long"
            )
        self.socket_path = socket_path
        self._allocatable_call = allocatable_call
        self._server = self._serve(node)

    def _serve(self, node: NodeAllocation) -> grpc.Server:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        lister = _Lister(node, allocatable_call=self._allocatable_call)
        pb2_grpc.add_PodResourcesListerServicer_to_server(lister, server)
        server.add_insecure_port(f"unix://{self.socket_path}")
        server.start()
        log.info("pod-resources server (local kubelet) on unix://%s: %d assignment(s), %d allocatable device(s)",
                 self.socket_path, len(node.assignments), sum(map(len, node.allocatable.values())))  # fmt: skip
        return server

    def restart(self, node: NodeAllocation) -> None:
        """Restart as the kubelet does: stop, remove the socket, serve ``node`` on a new socket at the same path."""
        self.stop()
        self._server = self._serve(node)

    def stop(self) -> None:
        """Stop serving and remove the socket (again is a no-op)."""
        self._server.stop(grace=None)
        self.socket_path.unlink(missing_ok=True)
