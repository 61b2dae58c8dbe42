"""The kubelet pod-resources v1 API: which container holds which device, read over a unix socket.

`PodResourcesClient` makes the two calls inferwatch needs (`List`, `GetAllocatableResources`)
through the vendored `proto/api.proto` (k8s.io/kubelet/pkg/apis/podresources/v1).
`PodResourcesWatcher` refreshes them on a timer on a background worker — never per scrape — and
watches the socket itself: when the kubelet restarts it removes and recreates the socket, so the
watcher reconnects as soon as the socket's identity changes and keeps the last assignments (they
survive a kubelet restart) while the socket is absent, reporting `inferwatch_podresources_up 0`.

The stubs `podresources_pb2*.py` are generated; to regenerate them:

    T=$(mktemp -d) && cp exporters/proto/api.proto $T/podresources.proto &&
    .venv/bin/python -m grpc_tools.protoc -I$T --python_out=exporters --pyi_out=exporters \
        --grpc_python_out=exporters $T/podresources.proto &&
    sed -i 's/^import podresources_pb2 as/from inferwatch.exporters import podresources_pb2 as/' \
        exporters/podresources_pb2_grpc.py &&
    sed -i '1i # mypy: ignore-errors' exporters/podresources_pb2.py exporters/podresources_pb2_grpc.py
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from inferwatch import contract
from inferwatch.exporters import podresources_pb2 as _pb2
from inferwatch.exporters import podresources_pb2_grpc as _pb2_grpc
from inferwatch.exporters.families import single
from inferwatch.exporters.worker import PeriodicWorker

log = logging.getLogger(__name__)

# Generated code builds its classes from descriptors at import time; mypy cannot see them.
pb2: Any = _pb2
pb2_grpc: Any = _pb2_grpc

DEFAULT_SOCKET = Path("/var/lib/kubelet/pod-resources/kubelet.sock")
GPU_RESOURCE_PREFIX = "nvidia.com/"
WATCH_TICK_S = 1.0


class PodResourcesError(Exception):
    """A call to the kubelet pod-resources API failed; the message says why."""


@dataclass(frozen=True)
class ContainerDevices:
    """The devices of one resource (e.g. nvidia.com/gpu) the kubelet assigned to one container."""

    namespace: str
    pod: str
    container: str
    resource_name: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class PodResourcesSnapshot:
    """What the kubelet said at `taken_at`: GPU assignments and every allocatable GPU device ID."""

    taken_at: float
    assignments: tuple[ContainerDevices, ...]
    allocatable: tuple[str, ...]


def _describe(err: grpc.RpcError) -> str:
    if isinstance(err, grpc.Call):
        return f"{err.code()}: {err.details()}"
    return str(err)


def _is_gpu_resource(name: str) -> bool:
    return name.startswith(GPU_RESOURCE_PREFIX)


class PodResourcesClient:
    """A gRPC client of the kubelet pod-resources v1 API on `socket_path`."""

    def __init__(self, socket_path: Path, *, timeout_s: float) -> None:
        """Connects lazily; `timeout_s` bounds each call."""
        self.socket_path = socket_path
        self._timeout = timeout_s
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self._warned_unimplemented = False

    def _connect(self) -> Any:
        if self._stub is None:
            self._channel = grpc.insecure_channel(f"unix://{self.socket_path}")
            self._stub = pb2_grpc.PodResourcesListerStub(self._channel)
        return self._stub

    def close(self) -> None:
        """Close the channel (the next call reconnects)."""
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._stub = None

    def read(self, now: float) -> PodResourcesSnapshot:
        """One `List` and one `GetAllocatableResources`, reduced to the GPU resources."""
        stub = self._connect()
        try:
            listed = stub.List(pb2.ListPodResourcesRequest(), timeout=self._timeout)
        except grpc.RpcError as err:
            self.close()
            raise PodResourcesError(_describe(err)) from err
        try:
            alloc_devices = stub.GetAllocatableResources(
                pb2.AllocatableResourcesRequest(), timeout=self._timeout
            ).devices
        except grpc.RpcError as err:
            # Kubelets before 1.23 (or with the feature gate off) lack this call: attribution still
            # works, only a time-slice replica then counts as a whole GPU (N unknown).
            if not (isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.UNIMPLEMENTED):
                self.close()
                raise PodResourcesError(_describe(err)) from err
            if not self._warned_unimplemented:
                log.warning("kubelet at %s has no GetAllocatableResources; time-slice shares unknown", self.socket_path)
                self._warned_unimplemented = True
            alloc_devices = []
        assignments = [
            ContainerDevices(pod.namespace, pod.name, container.name, dev.resource_name, tuple(dev.device_ids))
            for pod in listed.pod_resources
            for container in pod.containers
            for dev in container.devices
            if _is_gpu_resource(dev.resource_name) and dev.device_ids
        ]
        allocatable = [i for dev in alloc_devices if _is_gpu_resource(dev.resource_name) for i in dev.device_ids]
        return PodResourcesSnapshot(taken_at=now, assignments=tuple(assignments), allocatable=tuple(allocatable))


class PodResourcesWatcher:
    """Keeps a `PodResourcesSnapshot` fresh on a background thread (see the module docstring)."""

    def __init__(
        self,
        client: PodResourcesClient,
        *,
        refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Refresh every `refresh_s`, and at once when the socket appears or is recreated."""
        if refresh_s <= 0:
            raise ValueError("refresh_s must be > 0")
        self._client = client
        self._refresh = refresh_s
        self._clock = clock
        self._snapshot: PodResourcesSnapshot | None = None
        self._up = False
        self._attempted = False
        self._socket_id: tuple[int, int, int] | None = None
        self._last_error: str | None = None
        self._last_refresh: float | None = None
        # The worker looks at the socket every WATCH_TICK_S and reads the kubelet when due or changed.
        self._worker = PeriodicWorker(
            "inferwatch-podresources", self._watch_step, interval_s=min(WATCH_TICK_S, refresh_s), join_timeout_s=10
        )

    @property
    def up(self) -> bool:
        """Whether the last refresh reached the kubelet."""
        return self._up

    @property
    def attempted(self) -> bool:
        """Whether a first refresh has finished (successful or not)."""
        return self._attempted

    def snapshot(self) -> PodResourcesSnapshot | None:
        """The last assignments read, kept while the kubelet is away; None before the first success."""
        return self._snapshot

    def _socket_identity(self) -> tuple[int, int, int] | None:
        # A recreated socket may reuse the inode number; its change time tells them apart.
        try:
            st = os.stat(self._client.socket_path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_ctime_ns)

    def refresh_once(self) -> bool:
        """Read the kubelet now; True on success (errors are logged once per change, never raised)."""
        identity = self._socket_identity()
        if identity != self._socket_id:
            if self._socket_id is not None or identity is not None:
                log.info("pod-resources socket %s changed (now %s); reconnecting",
                         self._client.socket_path, "present" if identity else "absent")  # fmt: skip
            self._client.close()
            self._socket_id = identity
        try:
            if identity is None:
                raise PodResourcesError(f"socket {self._client.socket_path} is absent")
            snap = self._client.read(self._clock())
        except PodResourcesError as err:
            self._up = False
            if str(err) != self._last_error:
                log.warning("pod-resources refresh failed socket=%s reason=%s", self._client.socket_path, err)
            self._last_error = str(err)
            return False
        finally:
            self._attempted = True
        if self._last_error is not None or self._snapshot is None:
            log.info("pod-resources ok socket=%s gpu_assignments=%d allocatable=%d",
                     self._client.socket_path, len(snap.assignments), len(snap.allocatable))  # fmt: skip
        self._last_error = None
        self._snapshot = snap
        self._up = True
        return True

    def start(self) -> None:
        """Refresh once now, then keep refreshing on the background worker."""
        self._last_refresh = self._clock()
        self.refresh_once()
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker and close the channel."""
        self._worker.stop()
        self._client.close()

    def _watch_step(self) -> None:
        now = self._clock()
        due = self._last_refresh is None or now - self._last_refresh >= self._refresh
        if due or self._socket_identity() != self._socket_id:
            self._last_refresh = now
            self.refresh_once()


class PodResourcesCollector(Collector):
    """The pod-resources up series: whether the kubelet answered the last refresh."""

    def __init__(self, watcher: PodResourcesWatcher) -> None:
        """Report on `watcher`."""
        self._watcher = watcher

    def collect(self) -> Iterator[Metric]:
        """One gauge, 0 or 1."""
        yield single(contract.PODRESOURCES_UP, 1 if self._watcher.up else 0)
