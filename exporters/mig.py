"""MIG instances of a GPU read through NVML: their identity, share of the parent and memory.

A MIG-enabled GPU is split into instances, each with its own UUID (`MIG-…`); the kubelet hands
those UUIDs to containers, so attribution needs each instance's slice count over the parent's
maximum. Profile names come from NVML (`nvmlDeviceGetGpuInstanceProfileInfo`, read once per GPU)
because instance memory sizes are not whole GiB and a computed name would not match `nvidia-smi`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from inferwatch.exporters import nvml
from inferwatch.exporters.nvml import NvmlApi

DEFAULT_MAX_SLICES = 7  # an A100/H100/H200 has seven compute slices

ErrorSink = Callable[[str, pynvml.NVMLError], None]


@dataclass(frozen=True)
class MigSample:
    """One MIG instance; `slices / max_slices` is its share of the parent GPU."""

    mig_uuid: str
    gpu_uuid: str
    gpu_instance_id: int
    compute_instance_id: int
    profile: str
    slices: int
    max_slices: int
    memory_used_bytes: float
    memory_total_bytes: float

    @property
    def slice_ratio(self) -> float:
        """The instance's share of its GPU (0 when the maximum is unknown)."""
        return self.slices / self.max_slices if self.max_slices else 0.0


@dataclass(frozen=True)
class MigProfile:
    """A GPU instance profile the GPU offers: its slices, memory and NVML's name (`1g.10gb`)."""

    slices: int
    memory_mib: int
    name: str


def read_profiles(api: NvmlApi, handle: Any) -> tuple[MigProfile, ...]:
    """The GPU instance profiles this GPU offers, by profile id (profiles it lacks are skipped)."""
    out: list[MigProfile] = []
    for profile in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            info = api.nvmlDeviceGetGpuInstanceProfileInfo(handle, profile)
        except pynvml.NVMLError:
            continue
        name = nvml.as_text(info.name).removeprefix("MIG ").strip()
        out.append(MigProfile(int(info.sliceCount), int(info.memorySizeMB), name))
    return tuple(out)


def max_slices(profiles: tuple[MigProfile, ...]) -> int:
    """The parent's slice count: the largest profile's."""
    return max((p.slices for p in profiles), default=DEFAULT_MAX_SLICES)


def profile_name(profiles: tuple[MigProfile, ...], slices: int, memory_mib: int) -> str:
    """NVML's name of the profile with these slices and memory (the base one first), else a derived name."""
    for p in profiles:
        if p.slices == slices and p.memory_mib == memory_mib and p.name:
            return p.name
    return f"{slices}g.{round(memory_mib / 1024)}gb"


def read_instances(
    api: NvmlApi,
    handle: Any,
    gpu_uuid: str,
    profiles: tuple[MigProfile, ...],
    on_error: ErrorSink,
) -> tuple[MigSample, ...]:
    """Every MIG instance of the GPU `handle`; a slot or instance that fails is reported to `on_error` and skipped."""
    try:
        count = api.nvmlDeviceGetMaxMigDeviceCount(handle)
    except pynvml.NVMLError as err:
        on_error("mig_count", err)
        return ()
    parent_slices = max_slices(profiles)
    out: list[MigSample] = []
    for i in range(count):
        try:
            mh = api.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
        except pynvml.NVMLError as err:
            if nvml.error_code(err) != pynvml.NVML_ERROR_NOT_FOUND:  # NOT_FOUND: an empty slot
                on_error("mig_handle", err)
            continue
        try:
            out.append(_instance(api, mh, gpu_uuid, profiles, parent_slices))
        except pynvml.NVMLError as err:
            on_error("mig_device", err)
    return tuple(out)


def _instance(api: NvmlApi, mh: Any, gpu_uuid: str, profiles: tuple[MigProfile, ...], parent: int) -> MigSample:
    attrs = api.nvmlDeviceGetAttributes(mh)
    mem = api.nvmlDeviceGetMemoryInfo(mh)
    slices = int(attrs.gpuInstanceSliceCount)
    return MigSample(
        mig_uuid=nvml.as_text(api.nvmlDeviceGetUUID(mh)),
        gpu_uuid=gpu_uuid,
        gpu_instance_id=int(api.nvmlDeviceGetGpuInstanceId(mh)),
        compute_instance_id=int(api.nvmlDeviceGetComputeInstanceId(mh)),
        profile=profile_name(profiles, slices, int(attrs.memorySizeMB)),
        slices=slices,
        max_slices=parent,
        memory_used_bytes=float(mem.used),
        memory_total_bytes=float(mem.total),
    )
