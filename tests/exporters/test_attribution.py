"""Device IDs -> inferwatch_gpu_allocation_ratio: exclusive, time-sliced, MIG, index IDs, sidecar."""

from __future__ import annotations

from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from inferwatch import contract
from inferwatch.exporters.attribution import (
    Allocation,
    AttributionCollector,
    KubeletGpuCollector,
    PodIdentity,
    allocation_ratios,
    daemonset_source,
    kubelet_gpus,
    sidecar_allocations,
    sidecar_source,
)
from inferwatch.exporters.gpu import GpuSample, GpuSnapshot, MigSample
from inferwatch.exporters.podresources import ContainerDevices, PodResourcesSnapshot

GPU_A = "GPU-aaaaaaaa-0000-4000-8000-000000000000"
GPU_B = "GPU-bbbbbbbb-0000-4000-8000-000000000000"
MIG_1 = "MIG-11111111-0000-4000-8000-000000000000"
MIG_2 = "MIG-22222222-0000-4000-8000-000000000000"
KUBELET = contract.ALLOCATION_FROM_KUBELET
SIDECAR = contract.ALLOCATION_FROM_SIDECAR


def _approx(share: float) -> float:
    """A share inside an Allocation compared approximately (pytest.approx equals a float)."""
    return cast(float, pytest.approx(share))


def _gpu(uuid: str, index: int, mig: str = "disabled") -> GpuSample:
    return GpuSample(uuid, index, "NVIDIA H100 80GB HBM3", f"00000000:{index:02x}:00.0", "580.1", mig, True)


def _mig(uuid: str, slices: int) -> MigSample:
    return MigSample(uuid, GPU_B, 1, 0, f"{slices}g.{10 * slices}gb", slices, 7, 0.0, 10e9 * slices)


SNAPSHOT = GpuSnapshot(
    taken_at=0.0,
    backend="test",
    gpus=(_gpu(GPU_A, 0), _gpu(GPU_B, 1, "enabled")),
    migs=(_mig(MIG_1, 3), _mig(MIG_2, 1)),
)


def _devices(container: str, *ids: str, resource: str = "nvidia.com/gpu") -> ContainerDevices:
    return ContainerDevices("llm", f"pod-{container}", container, resource, ids)


def test_exclusive_gpu_is_one() -> None:
    assert allocation_ratios([_devices("a", GPU_A)], [GPU_A, GPU_B], SNAPSHOT) == [
        Allocation(GPU_A, "llm", "pod-a", "a", 1.0, KUBELET)
    ]


def test_time_slice_replicas_are_counted_out_of_the_allocatable_replicas() -> None:
    allocatable = [f"{GPU_A}::{i}" for i in range(4)]
    got = allocation_ratios(
        [_devices("a", f"{GPU_A}::0"), _devices("b", f"{GPU_A}::1", f"{GPU_A}::3")], allocatable, None
    )
    assert got == [
        Allocation(GPU_A, "llm", "pod-a", "a", 0.25, KUBELET),
        Allocation(GPU_A, "llm", "pod-b", "b", 0.5, KUBELET),
    ]


def test_mig_instances_are_slices_over_max_of_their_parent() -> None:
    got = allocation_ratios(
        [
            _devices("a", MIG_1, resource="nvidia.com/mig-3g.40gb"),
            _devices("b", MIG_2, resource="nvidia.com/mig-1g.10gb"),
        ],
        [MIG_1, MIG_2],
        SNAPSHOT,
    )
    assert got == [
        Allocation(GPU_B, "llm", "pod-a", "a", _approx(3 / 7), KUBELET),
        Allocation(GPU_B, "llm", "pod-b", "b", _approx(1 / 7), KUBELET),
    ]


def test_unknown_mig_is_left_out_not_guessed() -> None:
    assert allocation_ratios([_devices("a", MIG_1)], [MIG_1], None) == []


def test_index_device_ids_map_through_the_gpu_snapshot() -> None:
    assert allocation_ratios([_devices("a", "1"), _devices("b", "7")], ["0", "1"], SNAPSHOT) == [
        Allocation(GPU_B, "llm", "pod-a", "a", 1.0, KUBELET)
    ]


def test_sidecar_holds_its_visible_gpus_and_mig_shares() -> None:
    who = PodIdentity("llm", "vllm-0", "vllm")
    got = sidecar_allocations(who, SNAPSHOT)
    # One series per GPU: the two MIG instances of GPU_B add up.
    assert got == [
        Allocation(GPU_A, "llm", "vllm-0", "vllm", 1.0, SIDECAR),
        Allocation(GPU_B, "llm", "vllm-0", "vllm", _approx(4 / 7), SIDECAR),
    ]
    assert sidecar_allocations(who, None) == []


def test_each_mode_labels_its_allocations_with_their_source() -> None:
    """The DaemonSet serves the kubelet's answer as `kubelet`, a sidecar its claim as `sidecar`: the
    normalization rules tell them apart by this label (a kubelet attribution overrides a sidecar claim)."""
    kubelet = PodResourcesSnapshot(taken_at=0.0, assignments=(_devices("a", GPU_A),), allocatable=(GPU_A, GPU_B))
    registry = CollectorRegistry()
    registry.register(AttributionCollector(daemonset_source(lambda: kubelet, lambda: SNAPSHOT)))
    name = contract.GPU_ALLOCATION.name
    labels = {"gpu_uuid": GPU_A, "namespace": "llm", "pod": "pod-a", "container": "a"}
    assert registry.get_sample_value(name, {**labels, "source": "kubelet"}) == 1.0
    assert registry.get_sample_value(name, {**labels, "source": "sidecar"}) is None
    sidecar = CollectorRegistry()
    sidecar.register(AttributionCollector(sidecar_source(PodIdentity("llm", "pod-b", "b"), lambda: SNAPSHOT)))
    for gpu in (GPU_A, GPU_B):
        labels = {"gpu_uuid": gpu, "namespace": "llm", "pod": "pod-b", "container": "b"}
        assert sidecar.get_sample_value(name, {**labels, "source": "sidecar"}) is not None
        assert sidecar.get_sample_value(name, {**labels, "source": "kubelet"}) is None


def test_the_kubelets_gpus_are_the_physical_gpus_behind_its_allocatable_ids() -> None:
    """Replicas, MIG instances and indexes resolve to their GPU; what the snapshot cannot place is left out."""
    assert kubelet_gpus([f"{GPU_A}::0", f"{GPU_A}::1", MIG_1, MIG_2], SNAPSHOT) == [GPU_A, GPU_B]
    assert kubelet_gpus(["0", "7"], SNAPSHOT) == [GPU_A]
    assert kubelet_gpus([MIG_1], None) == []


def test_the_daemonset_serves_the_gpus_the_kubelet_allocates_held_or_not() -> None:
    """GPU_B is allocatable and nobody holds it: the kubelet still vouches for it (sidecar claims on it are void)."""
    kubelet = PodResourcesSnapshot(taken_at=0.0, assignments=(_devices("a", GPU_A),), allocatable=(GPU_A, GPU_B))
    snapshots: list[PodResourcesSnapshot | None] = [None]
    registry = CollectorRegistry()
    registry.register(KubeletGpuCollector(lambda: snapshots[-1], lambda: SNAPSHOT))
    name = contract.PODRESOURCES_GPU_INFO.name
    assert registry.get_sample_value(name, {"gpu_uuid": GPU_B}) is None  # no answer from the kubelet yet
    snapshots.append(kubelet)
    assert [registry.get_sample_value(name, {"gpu_uuid": g}) for g in (GPU_A, GPU_B)] == [1.0, 1.0]
