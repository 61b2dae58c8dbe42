"""A simulated NVML: the pynvml functions the sampler calls, over GPUs that exist only in memory.

It returns the same ctypes structures pynvml returns (`c_nvmlUtilization_t`, `c_nvmlMemory_t`,
`c_nvmlFieldValue_t` arrays, …) and raises real `pynvml.NVMLError` subclasses, so the sampler
code that reads a real H100 runs unchanged against it. Each call can cost a configurable time
(`MEASURED_H100_LATENCIES_S` are the costs measured on an H100, see docs/benchmarks.md), and faults can
be injected: lose GPU *i* at time *t*, make a read unsupported, raise an Xid event.
It is for demos, CI and benchmarks only; the exporter says so in its log and its metrics.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pynvml

# Per-call costs measured on an H100 with driver 580 (docs/benchmarks.md): most reads 1–6 µs, total energy
# ≈ 4 ms (also through field values, which read it), ECC/MIG mode ≈ 150 µs.
MEASURED_H100_LATENCIES_S: Mapping[str, float] = {
    "default": 3e-6,
    "nvmlDeviceGetTotalEnergyConsumption": 4e-3,
    "nvmlDeviceGetFieldValues": 4e-3,
    "nvmlDeviceGetMigMode": 150e-6,
    "nvmlDeviceGetProcessUtilization": 2e-3,
}

_SPIN_BELOW_S = 200e-6  # sleeping is too coarse for µs costs: spin for those, sleep for longer ones

H100_MEMORY_BYTES = 80 * 1024**3
H100_MIG_SLICES = 7
# GPU instance profiles of an H100 80GB: (profile id, slices, memory MiB, name). Memory sizes are
# not whole GiB, which is why the sampler takes profile names from NVML instead of computing them.
H100_MIG_PROFILES: tuple[tuple[int, int, int, str], ...] = (
    (pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE, 1, 9856, "MIG 1g.10gb"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 1, 9856, "MIG 1g.10gb+me"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 1, 19968, "MIG 1g.20gb"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE, 2, 19968, "MIG 2g.20gb"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_3_SLICE, 3, 40192, "MIG 3g.40gb"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_4_SLICE, 4, 40192, "MIG 4g.40gb"),
    (pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE, 7, 80384, "MIG 7g.80gb"),
)


@dataclass
class SimulatedMig:
    """One MIG instance of a simulated GPU."""

    gpu_instance_id: int
    compute_instance_id: int
    slices: int
    memory_total_bytes: int
    memory_used_bytes: int = 0
    uuid: str = ""


@dataclass
class SimulatedGpu:
    """The state of one simulated GPU; tests change it through `SimulatedNvml`'s methods."""

    index: int
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    memory_total_bytes: int = H100_MEMORY_BYTES
    memory_used_bytes: int = 1 * 1024**3
    utilization: float = 0.0  # 0–1
    idle_power_w: float = 70.0
    max_power_w: float = 700.0
    power_limit_w: float = 700.0
    temperature_c: int = 35
    memory_temperature_c: int = 40
    energy_mj: float = 0.0
    energy_at: float = 0.0
    ecc_sbe: int = 0
    ecc_dbe: int = 0
    pcie_tx_bytes: int = 0
    pcie_rx_bytes: int = 0
    throttle_mask: int = 0
    lost_at: float | None = None
    unsupported: set[str] = field(default_factory=set)
    migs: list[SimulatedMig] = field(default_factory=list)

    @property
    def power_w(self) -> float:
        """Board power at the current utilization."""
        return self.idle_power_w + self.utilization * (self.max_power_w - self.idle_power_w)


@dataclass(frozen=True)
class _Handle:
    gpu: int
    mig: int | None = None


@dataclass(frozen=True)
class SimulatedEvent:
    """What nvmlEventSetWait returns: the fields of `c_nvmlEventData_t` the sampler reads."""

    device: _Handle
    eventType: int
    eventData: int
    gpuInstanceId: int = 0xFFFFFFFF
    computeInstanceId: int = 0xFFFFFFFF


class SimulatedNvml:
    """pynvml-compatible functions over `gpus` simulated H100s (see the module docstring)."""

    backend_name = "simulated"

    def __init__(
        self,
        gpus: int = 2,
        *,
        latencies_s: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        driver_version: str = "580.159.04-simulated",
        mig_gpus: Mapping[int, tuple[int, ...]] | None = None,
    ) -> None:
        """Make `gpus` GPUs; `mig_gpus` maps a GPU index to its MIG instances' slice counts."""
        self._clock = clock
        self._latencies = dict(latencies_s or {})
        self._driver = driver_version
        self._lock = threading.Lock()
        self._events: deque[SimulatedEvent] = deque()
        self._event_ready = threading.Condition(self._lock)
        self._registered: set[int] = set()
        self._initialized = 0
        now = clock()
        self.gpus = [
            SimulatedGpu(index=i, uuid=f"GPU-5{i:07d}-0000-4000-8000-00000000000{i % 10}") for i in range(gpus)
        ]
        for g in self.gpus:
            g.energy_at = now
        for index, slices in (mig_gpus or {}).items():
            self.enable_mig(index, slices)

    # ----- controls (tests, demo, benchmark) -----------------------------------------------
    def set_load(self, index: int, utilization: float, memory_used_bytes: int | None = None) -> None:
        """Set GPU `index`'s utilization (0–1) from now on; energy keeps integrating its power."""
        with self._lock:
            g = self.gpus[index]
            self._integrate(g)
            g.utilization = utilization
            if memory_used_bytes is not None:
                g.memory_used_bytes = memory_used_bytes

    def lose_gpu(self, index: int, at: float | None = None) -> None:
        """From clock time `at` (default now) every call on GPU `index` raises GPU_IS_LOST."""
        self.gpus[index].lost_at = self._clock() if at is None else at

    def make_unsupported(self, index: int, function: str) -> None:
        """Make `function` raise NOT_SUPPORTED on GPU `index`."""
        self.gpus[index].unsupported.add(function)

    def enable_mig(self, index: int, slices: tuple[int, ...]) -> None:
        """Put GPU `index` in MIG mode with one instance per entry of `slices`."""
        g = self.gpus[index]
        mib = {sl: mem for _, sl, mem, _ in reversed(H100_MIG_PROFILES)}  # the base profile of each size
        g.migs = [
            SimulatedMig(
                gpu_instance_id=gi + 1,
                compute_instance_id=0,
                slices=s,
                memory_total_bytes=mib[s] * 2**20,
                memory_used_bytes=mib[s] * 2**20 // 4,
                uuid=f"MIG-{index:02d}{gi:02d}0000-0000-4000-8000-000000000000",
            )
            for gi, s in enumerate(slices)
        ]
        g.unsupported.add("nvmlDeviceGetUtilizationRates")  # as real NVML on a MIG-enabled parent

    def raise_xid(self, index: int, xid: int) -> None:
        """Deliver an Xid critical-error event for GPU `index` to registered event sets."""
        self._push(SimulatedEvent(_Handle(index), pynvml.nvmlEventTypeXidCriticalError, xid))

    def raise_ecc(self, index: int, double_bit: bool = False) -> None:
        """Count one ECC error on GPU `index` and deliver its event."""
        g = self.gpus[index]
        if double_bit:
            g.ecc_dbe += 1
        else:
            g.ecc_sbe += 1
        kind = pynvml.nvmlEventTypeDoubleBitEccError if double_bit else pynvml.nvmlEventTypeSingleBitEccError
        self._push(SimulatedEvent(_Handle(index), kind, 0))

    def _push(self, event: SimulatedEvent) -> None:
        with self._event_ready:
            if event.device.gpu in self._registered:
                self._events.append(event)
                self._event_ready.notify_all()

    # ----- internals ---------------------------------------------------------------------------
    def _cost(self, function: str) -> None:
        cost = self._latencies.get(function, self._latencies.get("default", 0.0))
        if cost <= 0:
            return
        if cost < _SPIN_BELOW_S:
            end = time.perf_counter() + cost
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(cost)

    def _gpu(self, handle: _Handle, function: str) -> SimulatedGpu:
        self._cost(function)
        if not self._initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        g = self.gpus[handle.gpu]
        if g.lost_at is not None and self._clock() >= g.lost_at:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if function in g.unsupported and handle.mig is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return g

    def _mig(self, handle: _Handle, function: str) -> SimulatedMig:
        g = self._gpu(handle, function)
        if handle.mig is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return g.migs[handle.mig]

    def _integrate(self, g: SimulatedGpu) -> None:
        now = self._clock()
        g.energy_mj += g.power_w * 1000.0 * max(0.0, now - g.energy_at)
        g.energy_at = now

    # ----- pynvml functions --------------------------------------------------------------------
    def nvmlInit(self) -> None:
        """Start NVML (reference counted, like the real library)."""
        self._initialized += 1

    def nvmlShutdown(self) -> None:
        """Stop NVML."""
        if not self._initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        self._initialized -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        """The (simulated) driver version."""
        return self._driver

    def nvmlDeviceGetCount(self) -> int:
        """Number of GPUs."""
        if not self._initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        """A handle of GPU `index`."""
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(index)

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        """GPU or MIG UUID."""
        if handle.mig is not None:
            return self._mig(handle, "nvmlDeviceGetUUID").uuid
        return self._gpu(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        """Product name."""
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetPciInfo(self, handle: _Handle) -> pynvml.nvmlPciInfo_t:
        """PCI identity (busId is what the sampler reads)."""
        self._gpu(handle, "nvmlDeviceGetPciInfo")
        info = pynvml.nvmlPciInfo_t()
        info.busId = f"00000000:{0x18 + handle.gpu * 0x10:02X}:00.0".encode()
        return info

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> pynvml.c_nvmlUtilization_t:
        """GPU and memory-controller utilization in percent."""
        g = self._gpu(handle, "nvmlDeviceGetUtilizationRates")
        pct = round(g.utilization * 100)
        return pynvml.c_nvmlUtilization_t(gpu=pct, memory=pct // 2)

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle) -> pynvml.c_nvmlMemory_t:
        """Framebuffer memory in bytes (of the MIG instance for a MIG handle)."""
        if handle.mig is not None:
            m = self._mig(handle, "nvmlDeviceGetMemoryInfo")
            total, used = m.memory_total_bytes, m.memory_used_bytes
        else:
            g = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
            total, used = g.memory_total_bytes, g.memory_used_bytes
        return pynvml.c_nvmlMemory_t(total=total, free=total - used, used=used)

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        """Board power in milliwatts."""
        return round(self._gpu(handle, "nvmlDeviceGetPowerUsage").power_w * 1000)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        """Power limit in milliwatts."""
        return round(self._gpu(handle, "nvmlDeviceGetEnforcedPowerLimit").power_limit_w * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        """Energy since driver load in millijoules."""
        g = self._gpu(handle, "nvmlDeviceGetTotalEnergyConsumption")
        with self._lock:
            self._integrate(g)
            return int(g.energy_mj)

    def nvmlDeviceGetTemperature(self, handle: _Handle, sensor: int) -> int:
        """GPU die temperature in °C."""
        g = self._gpu(handle, "nvmlDeviceGetTemperature")
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return g.temperature_c + round(g.utilization * 30)

    def nvmlDeviceGetClockInfo(self, handle: _Handle, clock_type: int) -> int:
        """Current clock in MHz."""
        g = self._gpu(handle, "nvmlDeviceGetClockInfo")
        mhz = {
            pynvml.NVML_CLOCK_GRAPHICS: 345 + g.utilization * 1635,
            pynvml.NVML_CLOCK_SM: 345 + g.utilization * 1635,
            pynvml.NVML_CLOCK_MEM: 2619,
            pynvml.NVML_CLOCK_VIDEO: 765 + g.utilization * 800,
        }
        return round(mhz[clock_type])

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: _Handle) -> int:
        """Bit mask of the active clock event (throttle) reasons."""
        g = self._gpu(handle, "nvmlDeviceGetCurrentClocksEventReasons")
        idle = pynvml.nvmlClocksEventReasonGpuIdle if g.utilization == 0 else 0
        return g.throttle_mask | idle

    def nvmlDeviceGetFieldValues(
        self, handle: _Handle, field_ids: list[int]
    ) -> ctypes.Array[pynvml.c_nvmlFieldValue_t]:
        """Field values; a field the simulator does not know comes back NOT_SUPPORTED, like NVML's."""
        g = self._gpu(handle, "nvmlDeviceGetFieldValues")
        with self._lock:
            self._integrate(g)
            known: dict[int, int] = {
                pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION: int(g.energy_mj),
                pynvml.NVML_FI_DEV_ECC_SBE_VOL_TOTAL: g.ecc_sbe,
                pynvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL: g.ecc_dbe,
                pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES: g.pcie_tx_bytes,
                pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES: g.pcie_rx_bytes,
                pynvml.NVML_FI_DEV_MEMORY_TEMP: g.memory_temperature_c,
            }
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for i, fid in enumerate(field_ids):
            values[i].fieldId = fid
            values[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
            if fid in known and f"field:{fid}" not in g.unsupported:
                values[i].nvmlReturn = pynvml.NVML_SUCCESS
                values[i].value.ullVal = known[fid]
            else:
                values[i].nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
        array: ctypes.Array[pynvml.c_nvmlFieldValue_t] = values
        return array

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        """[current, pending] MIG mode."""
        g = self._gpu(handle, "nvmlDeviceGetMigMode")
        mode = pynvml.NVML_DEVICE_MIG_ENABLE if g.migs else pynvml.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: _Handle) -> int:
        """How many MIG device slots the GPU has."""
        self._gpu(handle, "nvmlDeviceGetMaxMigDeviceCount")
        return H100_MIG_SLICES

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: _Handle, index: int) -> _Handle:
        """Handle of MIG slot `index`; an empty slot is NOT_FOUND."""
        g = self._gpu(handle, "nvmlDeviceGetMigDeviceHandleByIndex")
        if index >= len(g.migs):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return _Handle(handle.gpu, index)

    def nvmlDeviceGetGpuInstanceId(self, handle: _Handle) -> int:
        """GPU instance id of a MIG handle."""
        return self._mig(handle, "nvmlDeviceGetGpuInstanceId").gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, handle: _Handle) -> int:
        """Compute instance id of a MIG handle."""
        return self._mig(handle, "nvmlDeviceGetComputeInstanceId").compute_instance_id

    def nvmlDeviceGetAttributes(self, handle: _Handle) -> pynvml.c_nvmlDeviceAttributes:
        """Slice counts and memory size of a MIG handle."""
        m = self._mig(handle, "nvmlDeviceGetAttributes")
        attrs = pynvml.c_nvmlDeviceAttributes()
        attrs.gpuInstanceSliceCount = m.slices
        attrs.computeInstanceSliceCount = m.slices
        attrs.memorySizeMB = m.memory_total_bytes // 2**20
        attrs.multiprocessorCount = 16 * m.slices
        return attrs

    def nvmlDeviceGetGpuInstanceProfileInfo(
        self, handle: _Handle, profile: int
    ) -> pynvml.c_nvmlGpuInstanceProfileInfo_v2_t:
        """GPU instance profile `profile` of an H100 80GB (NOT_SUPPORTED for profiles it does not have)."""
        self._gpu(handle, "nvmlDeviceGetGpuInstanceProfileInfo")
        for pid, slices, mib, name in H100_MIG_PROFILES:
            if pid == profile:
                info = pynvml.c_nvmlGpuInstanceProfileInfo_v2_t()
                info.id, info.sliceCount, info.memorySizeMB, info.name = pid, slices, mib, name.encode()
                return info
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetSupportedEventTypes(self, handle: _Handle) -> int:
        """Event types the GPU can report."""
        self._gpu(handle, "nvmlDeviceGetSupportedEventTypes")
        return int(
            pynvml.nvmlEventTypeXidCriticalError
            | pynvml.nvmlEventTypeSingleBitEccError
            | pynvml.nvmlEventTypeDoubleBitEccError
        )

    def nvmlEventSetCreate(self) -> object:
        """A new event set (the simulator has one shared queue)."""
        return object()

    def nvmlDeviceRegisterEvents(self, handle: _Handle, event_types: int, event_set: object) -> None:
        """Deliver events of GPU `handle` to the event set."""
        self._gpu(handle, "nvmlDeviceRegisterEvents")
        with self._lock:
            self._registered.add(handle.gpu)

    def nvmlEventSetWait(self, event_set: object, timeout_ms: int) -> SimulatedEvent:
        """The next event, or NVMLError TIMEOUT after `timeout_ms` (real time) without one."""
        with self._event_ready:
            if not self._events:
                self._event_ready.wait(timeout_ms / 1000.0)
            if not self._events:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
            return self._events.popleft()

    def nvmlEventSetFree(self, event_set: object) -> None:
        """Free the event set."""
        with self._event_ready:
            self._event_ready.notify_all()
