"""Which container holds how much of which GPU (the contract's `GPU_ALLOCATION` series).

A device ID from the kubelet is one of: a GPU UUID (`GPU-…`, exclusive: 1), a time-slice replica
`GPU-…::N` of the NVIDIA device plugin (1/N, N being how many replicas of that GPU the kubelet
can allocate), a MIG UUID (`MIG-…`, slices/max_slices of its parent GPU, from the GPU sampler's
MIG instances), or a GPU index when the device plugin uses index IDs. `allocation_ratios` is a
pure function of the kubelet's answer and the latest GPU snapshot; the collectors only read
snapshots. In sidecar mode there is no kubelet: the pod's GPUs are those NVML shows the container
(or a configured UUID list), because `NVIDIA_VISIBLE_DEVICES` may be `void` (CDI) or a path.

Each allocation says where it comes from (the contract's `source` label): `kubelet` is exact;
`sidecar` is a claim, right when the sidecar sees only its pod's GPUs (DRA, a UUID list) and every
GPU of the node when it runs with `NVIDIA_VISIBLE_DEVICES=all` beside a device-plugin request. The
normalization rules let the kubelet's answer for a GPU override every sidecar's claim on it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from inferwatch import contract
from inferwatch.exporters.families import family
from inferwatch.exporters.gpu import GpuSnapshot

if TYPE_CHECKING:  # annotations only: a sidecar attributes without the kubelet, so without gRPC
    from inferwatch.exporters.podresources import ContainerDevices, PodResourcesSnapshot

log = logging.getLogger(__name__)

REPLICA_SEPARATOR = "::"


@dataclass(frozen=True)
class Allocation:
    """One container's share (0–1] of one physical GPU, and who attributed it (`contract.ALLOCATION_SOURCES`)."""

    gpu_uuid: str
    namespace: str
    pod: str
    container: str
    ratio: float
    source: str


@dataclass(frozen=True)
class PodIdentity:
    """The pod a sidecar runs in (from the downward API through the config)."""

    namespace: str
    pod: str
    container: str


def _replica_counts(allocatable: Iterable[str]) -> Counter[str]:
    """How many allocatable IDs each base device has (`GPU-a::0`, `GPU-a::1` -> {GPU-a: 2})."""
    return Counter(i.split(REPLICA_SEPARATOR, 1)[0] for i in allocatable)


class _Placement:
    """Where the kubelet's device IDs are on the GPUs of the latest snapshot."""

    def __init__(self, gpus: GpuSnapshot | None) -> None:
        """Index the snapshot's MIG instances by UUID and its GPUs by index."""
        self._migs = {m.mig_uuid: m for m in gpus.migs} if gpus else {}
        self._by_index = {str(g.index): g.uuid for g in gpus.gpus} if gpus else {}

    def place(self, base: str, holder: str) -> tuple[str, float] | None:
        """The physical GPU and the share of it a device (no replica suffix) stands for, or None
        (logged at debug level for `holder`) when the snapshot cannot place it."""
        if base.startswith("MIG-"):
            mig = self._migs.get(base)
            if mig is None or mig.max_slices <= 0:
                log.debug("MIG device %s of %s is not in the GPU snapshot", base, holder)
                return None
            return mig.gpu_uuid, mig.slices / mig.max_slices
        if base.isdigit():
            if base not in self._by_index:
                log.debug("GPU index %s of %s is not in the GPU snapshot", base, holder)
                return None
            return self._by_index[base], 1.0
        return base, 1.0


def allocation_ratios(
    assignments: Sequence[ContainerDevices],
    allocatable: Sequence[str],
    gpus: GpuSnapshot | None,
) -> list[Allocation]:
    """Each container's share of each GPU, summed over its device IDs (see the module docstring).

    A device ID that cannot be placed (a MIG UUID or index the GPU snapshot does not know) is
    logged at debug level and left out rather than guessed.
    """
    replicas = _replica_counts(allocatable)
    placement = _Placement(gpus)
    shares: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for a in assignments:
        for device_id in a.device_ids:
            base, sep, _ = device_id.partition(REPLICA_SEPARATOR)
            # A replica's N comes from the kubelet's allocatable list; a replica missing there counts whole.
            n = max(replicas.get(base, 0), 1) if sep else 1
            placed = placement.place(base, f"{a.namespace}/{a.pod}")
            if placed is not None:
                gpu_uuid, share = placed
                shares[(gpu_uuid, a.namespace, a.pod, a.container)] += share / n
    return [
        Allocation(g, ns, pod, c, min(ratio, 1.0), contract.ALLOCATION_FROM_KUBELET)
        for (g, ns, pod, c), ratio in sorted(shares.items())
    ]


def kubelet_gpus(allocatable: Sequence[str], gpus: GpuSnapshot | None) -> list[str]:
    """The physical GPUs behind the kubelet's allocatable GPU device IDs (replicas, MIG instances and
    indexes resolved as for allocations): the GPUs whose holders, or lack of any, the kubelet knows.

    GPUs allocated through DRA are not among them (the device plugin does not list them).
    """
    placement = _Placement(gpus)
    found = (placement.place(i.partition(REPLICA_SEPARATOR)[0], "the allocatable list") for i in allocatable)
    return sorted({p[0] for p in found if p is not None})


def sidecar_allocations(identity: PodIdentity, gpus: GpuSnapshot | None) -> list[Allocation]:
    """The sidecar's pod holds every GPU the (already UUID-filtered) sampler sees; MIG GPUs by summed share.

    A claim, not a fact: with `NVIDIA_VISIBLE_DEVICES=all` the sampler sees every GPU of the node, so
    these are labelled `sidecar` and give way to the kubelet's attribution of the same GPU.
    """
    if gpus is None:
        return []
    shares: dict[str, float] = defaultdict(float)
    for m in gpus.migs:
        shares[m.gpu_uuid] += m.slice_ratio
    for g in gpus.gpus:
        if g.uuid not in shares:
            shares[g.uuid] = 1.0
    who = identity
    return [
        Allocation(g, who.namespace, who.pod, who.container, min(r, 1.0), contract.ALLOCATION_FROM_SIDECAR)
        for g, r in sorted(shares.items())
    ]


class AttributionCollector(Collector):
    """The allocation-ratio series from a function of the latest snapshots (cheap, no I/O)."""

    def __init__(self, allocations: Callable[[], list[Allocation]]) -> None:
        """`allocations` reads snapshots only (see `daemonset_source` / `sidecar_source`)."""
        self._allocations = allocations

    def collect(self) -> Iterator[Metric]:
        """One gauge per (gpu_uuid, namespace, pod, container), labelled with its source."""
        ratios = family(contract.GPU_ALLOCATION)
        for a in self._allocations():
            ratios.add_metric([a.gpu_uuid, a.namespace, a.pod, a.container, a.source], a.ratio)
        yield ratios


class KubeletGpuCollector(Collector):
    """The GPUs the kubelet allocates (`contract.PODRESOURCES_GPU_INFO`), from the latest snapshots."""

    def __init__(
        self, podresources: Callable[[], PodResourcesSnapshot | None], gpus: Callable[[], GpuSnapshot | None]
    ) -> None:
        """`podresources` and `gpus` return the watcher's and the sampler's latest snapshots."""
        self._podresources = podresources
        self._gpus = gpus

    def collect(self) -> Iterator[Metric]:
        """One info series per GPU behind the kubelet's last allocatable list (none before its first answer)."""
        info = family(contract.PODRESOURCES_GPU_INFO)
        snap = self._podresources()
        for gpu_uuid in kubelet_gpus(snap.allocatable, self._gpus()) if snap is not None else []:
            info.add_metric([gpu_uuid], 1)
        yield info


def daemonset_source(
    podresources: Callable[[], PodResourcesSnapshot | None], gpus: Callable[[], GpuSnapshot | None]
) -> Callable[[], list[Allocation]]:
    """Allocations from the kubelet's last answer and the GPU sampler's last snapshot."""

    def read() -> list[Allocation]:
        snap = podresources()
        if snap is None:
            return []
        return allocation_ratios(snap.assignments, snap.allocatable, gpus())

    return read


def sidecar_source(identity: PodIdentity, gpus: Callable[[], GpuSnapshot | None]) -> Callable[[], list[Allocation]]:
    """Allocations of a sidecar's own pod."""
    return lambda: sidecar_allocations(identity, gpus())
