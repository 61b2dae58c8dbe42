"""The GPU sampler: NVML read on background workers into immutable `GpuSnapshot`s.

`GpuSampler` reads NVML on background workers: fast reads (utilization, memory, power,
temperature, clocks, throttle reasons, MIG memory) every `interval_s`, integrating utilization
into busy seconds; slow reads (total energy, ECC and PCIe byte counters, memory temperature —
one `nvmlDeviceGetFieldValues` call per GPU, plus the MIG mode) every `slow_interval_s`; and Xid /
ECC events from an NVML event set on a worker of their own (`inferwatch.exporters.xid`); MIG
instances are read by `inferwatch.exporters.mig`. Each tick's reads of a GPU become typed,
immutable readings (`inferwatch.exporters.gpu.snapshot`). Each GPU fails alone: an NVML error on
one GPU is counted, and a lost GPU reports `inferwatch_gpu_up 0`, while the others go on; a GPU
whose memory read fails once is down for that tick only and back up at the next good read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import pynvml

from inferwatch.exporters import mig as mig_reader
from inferwatch.exporters import nvml
from inferwatch.exporters.gpu.snapshot import FastReading, GpuSample, GpuSnapshot, SlowReading
from inferwatch.exporters.mig import MigProfile, MigSample
from inferwatch.exporters.nvml import NvmlApi
from inferwatch.exporters.worker import PeriodicWorker
from inferwatch.exporters.xid import EVENT_WAIT_MS, XidWatcher

log = logging.getLogger(__name__)

# The memory read is the liveness probe of a GPU: it is never given up as "not supported".
LIVENESS_READ = "memory"


@dataclass
class _GpuState:
    """Mutable per-GPU state, touched by the sampling worker (errors also under the sampler's lock)."""

    handle: Any
    uuid: str
    index: int
    model: str
    pci_bus_id: str
    up: bool = True
    down_logged: bool = False
    mig_enabled: bool | None = None
    mig_profiles: tuple[MigProfile, ...] = ()
    busy_seconds: float = 0.0
    last_tick: float | None = None
    read_at: float | None = None
    unsupported: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)
    fast: FastReading | None = None
    slow: SlowReading = field(default_factory=SlowReading)
    migs: tuple[MigSample, ...] = ()

    def mark_down(self) -> None:
        """Nothing of this tick is trusted: no fast values, no MIG instances, no busy-time interval."""
        self.up = False
        self.fast, self.migs, self.last_tick = None, (), None


class GpuSampler:
    """Samples NVML on background workers into an immutable `GpuSnapshot` (see the module docstring)."""

    def __init__(
        self,
        backend: NvmlApi,
        *,
        interval_s: float,
        slow_interval_s: float,
        only_uuids: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`backend` is the `pynvml` module or a `SimulatedNvml`; `only_uuids` limits the GPUs read."""
        if interval_s <= 0 or slow_interval_s <= 0:
            raise ValueError("interval_s and slow_interval_s must be > 0")
        self._api = backend
        self._interval = interval_s
        self._slow_interval = slow_interval_s
        self._only = set(only_uuids) if only_uuids is not None else None
        self._clock = clock
        self._backend_name = str(getattr(backend, "backend_name", "nvml"))
        self._lock = threading.Lock()
        self._gpus: list[_GpuState] = []
        self._driver = ""
        self._opened = False
        self._last_slow: float | None = None
        self._slow_due = False
        self._snapshot: GpuSnapshot | None = None
        self._xid = XidWatcher(backend, on_ecc=self._ecc_event)
        self._workers: list[PeriodicWorker] = []

    @property
    def clock(self) -> Callable[[], float]:
        """The clock `taken_at` and `read_at` are on."""
        return self._clock

    # ----- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Initialize NVML and enumerate the GPUs (start() calls it; tests may call it directly)."""
        if self._opened:
            return
        self._api.nvmlInit()
        self._driver = nvml.as_text(self._api.nvmlSystemGetDriverVersion())
        for index in range(self._api.nvmlDeviceGetCount()):
            try:
                handle = self._api.nvmlDeviceGetHandleByIndex(index)
                uuid = nvml.as_text(self._api.nvmlDeviceGetUUID(handle))
            except pynvml.NVMLError as err:
                # Without a UUID there is nothing to label its series with; the others go on.
                log.error("GPU %d cannot be identified at start (%s); it is not sampled", index, err)
                continue
            if self._only is not None and uuid not in self._only:
                continue
            model = self._identity(handle, uuid, lambda h: nvml.as_text(self._api.nvmlDeviceGetName(h)))
            bus = self._identity(handle, uuid, lambda h: nvml.as_text(self._api.nvmlDeviceGetPciInfo(h).busId))
            self._gpus.append(_GpuState(handle=handle, uuid=uuid, index=index, model=model, pci_bus_id=bus))
            log.info("GPU %d %s (%s, %s) found through %s", index, uuid, model, bus, self._backend_name)
        if self._only is not None:
            missing = self._only - {g.uuid for g in self._gpus}
            if missing:
                log.warning("configured GPU UUIDs not found on this node: %s", ", ".join(sorted(missing)))
        self._xid.register([(g.uuid, g.handle) for g in self._gpus])
        self._opened = True

    @staticmethod
    def _identity(handle: Any, uuid: str, read: Callable[[Any], str]) -> str:
        try:
            return read(handle)
        except pynvml.NVMLError as err:
            log.warning("GPU %s: identity read failed (%s); labelled unknown", uuid, err)
            return "unknown"

    def start(self) -> None:
        """Open NVML, take the first sample synchronously, then keep sampling on background workers."""
        self.open()
        self.tick()
        self._workers = [
            PeriodicWorker(
                "inferwatch-gpu-sampler", self.tick, interval_s=self._interval, join_timeout_s=5 + self._interval
            )
        ]
        if self._xid.watching:
            # The step blocks in the NVML event wait itself, so it runs back to back.
            self._workers.append(
                PeriodicWorker(
                    "inferwatch-gpu-events",
                    partial(self.poll_events, EVENT_WAIT_MS),
                    interval_s=0,
                    join_timeout_s=5 + EVENT_WAIT_MS / 1000,
                )
            )
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Stop the workers and shut NVML down; the last snapshot stays readable."""
        for worker in self._workers:
            worker.stop()
        self._workers = []
        if not self._opened:
            return
        self._xid.close()
        try:
            self._api.nvmlShutdown()
        except pynvml.NVMLError as err:
            log.warning("nvmlShutdown failed: %s", err)
        self._opened = False

    def snapshot(self) -> GpuSnapshot | None:
        """The latest complete snapshot, or None before the first one."""
        return self._snapshot

    @property
    def watching_events(self) -> bool:
        """True while an NVML event set delivers Xid/ECC events of at least one GPU."""
        return self._xid.watching

    def poll_events(self, timeout_ms: int) -> int:
        """Wait up to `timeout_ms` for one NVML event and count it; returns how many were handled."""
        return self._xid.poll(timeout_ms)

    def _ecc_event(self, _uuid: str) -> None:
        self._slow_due = True

    # ----- sampling -----------------------------------------------------------------------------
    def tick(self) -> GpuSnapshot:
        """One sampling step: fast reads of every GPU, slow reads when due; publishes a snapshot."""
        self.open()
        now = self._clock()
        slow = self._slow_due or self._last_slow is None or now - self._last_slow >= self._slow_interval
        for gpu in self._gpus:
            self._sample_gpu(gpu, now, slow)
        if slow:
            self._last_slow = now
            self._slow_due = False
        snap = self._build_snapshot(now)
        self._snapshot = snap
        return snap

    def _read(self, gpu: _GpuState, name: str, fn: Callable[[], Any]) -> Any:
        """Call one NVML read of `gpu`; errors are counted, a lost GPU is marked down. None on error."""
        if name in gpu.unsupported:
            return None
        try:
            return fn()
        except pynvml.NVMLError as err:
            self._note_error(gpu, name, err)
            return None

    def _note_error(self, gpu: _GpuState, name: str, err: pynvml.NVMLError) -> None:
        code, label = nvml.error_code(err), nvml.error_name(err)
        with self._lock:
            gpu.errors[label] = gpu.errors.get(label, 0) + 1
        if code in nvml.UNSUPPORTED_ERRORS and name != LIVENESS_READ:
            gpu.unsupported.add(name)
            log.info("GPU %s: %s is not supported here; leaving it out", gpu.uuid, name)
        elif code in nvml.LOST_ERRORS or name == LIVENESS_READ:
            if not gpu.down_logged:
                log.error("GPU %s is down: %s failed with %s", gpu.uuid, name, err)
                gpu.down_logged = True
            gpu.up = False
        else:
            log.warning("GPU %s: %s failed: %s", gpu.uuid, name, err)

    def _sample_gpu(self, gpu: _GpuState, now: float, slow: bool) -> None:
        api, h = self._api, gpu.handle
        gpu.up = True
        mem = self._read(gpu, LIVENESS_READ, lambda: api.nvmlDeviceGetMemoryInfo(h))
        if not gpu.up or mem is None:
            # Every GPU answers a memory read; without one, nothing else of this tick is trusted.
            gpu.mark_down()
            return
        if gpu.down_logged:
            log.warning("GPU %s answers again", gpu.uuid)
            gpu.down_logged = False
        util = self._read(gpu, "utilization", lambda: api.nvmlDeviceGetUtilizationRates(h))
        ratio: float | None = None
        if util is not None:
            ratio = float(util.gpu) / 100.0
            if gpu.last_tick is not None:
                # NVML's utilization is the busy fraction of its last sample period (≤ 1 s), so it
                # weighs the time since the previous tick; ticks at ≥ 1 Hz make any window exact.
                gpu.busy_seconds += ratio * max(0.0, now - gpu.last_tick)
            gpu.last_tick = now
        power = self._read(gpu, "power", lambda: api.nvmlDeviceGetPowerUsage(h))
        limit = self._read(gpu, "power_limit", lambda: api.nvmlDeviceGetEnforcedPowerLimit(h))
        temp = self._read(gpu, "temperature", lambda: api.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))
        clocks: list[tuple[str, float]] = []
        for label, clock_type in nvml.CLOCKS:
            mhz = self._read(gpu, f"clock_{label}", partial(api.nvmlDeviceGetClockInfo, h, clock_type))
            if mhz is not None:
                clocks.append((label, float(mhz) * 1e6))
        mask = self._read(gpu, "throttle", lambda: api.nvmlDeviceGetCurrentClocksEventReasons(h))
        if not gpu.up:
            gpu.mark_down()
            return
        if slow:
            self._sample_slow(gpu)
        gpu.fast = FastReading(
            memory_used_bytes=float(mem.used),
            memory_total_bytes=float(mem.total),
            utilization_ratio=ratio,
            power_watts=power / 1000.0 if power is not None else None,
            power_limit_watts=limit / 1000.0 if limit is not None else None,
            temperature_celsius=float(temp) if temp is not None else None,
            clocks_hertz=tuple(clocks),
            throttle_active=()
            if mask is None
            else tuple((label, bool(mask & bit)) for label, bit in nvml.THROTTLE_REASONS),
        )
        gpu.read_at = now
        if gpu.mig_enabled and "mig_count" not in gpu.unsupported:
            gpu.migs = mig_reader.read_instances(api, h, gpu.uuid, gpu.mig_profiles, partial(self._note_error, gpu))
        else:
            gpu.migs = ()

    def _sample_slow(self, gpu: _GpuState) -> None:
        api, h = self._api, gpu.handle
        mode = self._read(gpu, "mig_mode", lambda: api.nvmlDeviceGetMigMode(h))
        if mode is not None:
            enabled = int(mode[0]) == pynvml.NVML_DEVICE_MIG_ENABLE
            if enabled and not gpu.mig_profiles:
                gpu.mig_profiles = mig_reader.read_profiles(api, h)
            gpu.mig_enabled = enabled
        fields = self._read(gpu, "field_values", lambda: nvml.read_fields(api, h, nvml.SLOW_FIELDS))
        reading = SlowReading()
        if fields is not None:
            energy = fields[nvml.FIELD_ENERGY_MJ].value
            if energy is None:
                raw = self._read(gpu, "total_energy", lambda: api.nvmlDeviceGetTotalEnergyConsumption(h))
                energy = float(raw) if raw is not None else None
            ecc = tuple(
                (label, value)
                for label, fid in (
                    ("correctable", nvml.FIELD_ECC_SBE_VOLATILE),
                    ("uncorrectable", nvml.FIELD_ECC_DBE_VOLATILE),
                )
                if (value := fields[fid].value) is not None
            )
            reading = SlowReading(
                energy_joules_total=energy / 1000.0 if energy is not None else None,
                ecc_errors_total=ecc,
                pcie_tx_bytes_total=fields[nvml.FIELD_PCIE_TX_BYTES].value,
                pcie_rx_bytes_total=fields[nvml.FIELD_PCIE_RX_BYTES].value,
                memory_temperature_celsius=fields[nvml.FIELD_MEMORY_TEMP].value,
            )
        if gpu.up:
            gpu.slow = reading

    # ----- snapshot -----------------------------------------------------------------------------
    def _build_snapshot(self, now: float) -> GpuSnapshot:
        samples: list[GpuSample] = []
        migs: list[MigSample] = []
        with self._lock:
            errors = {g.uuid: tuple(sorted(g.errors.items())) for g in self._gpus}
        for g in self._gpus:
            mig_mode = "n/a" if g.mig_enabled is None else ("enabled" if g.mig_enabled else "disabled")
            identity = GpuSample(
                uuid=g.uuid,
                index=g.index,
                model=g.model,
                pci_bus_id=g.pci_bus_id,
                driver_version=self._driver,
                mig_mode=mig_mode,
                up=False,
                xid_errors_total=self._xid.counts(g.uuid),
                nvml_errors_total=errors[g.uuid],
                read_at=g.read_at,
            )
            f, s = g.fast, g.slow
            if not g.up or f is None:
                samples.append(identity)
                continue
            temps = [("gpu", f.temperature_celsius)] if f.temperature_celsius is not None else []
            if s.memory_temperature_celsius is not None:
                temps.append(("memory", s.memory_temperature_celsius))
            samples.append(
                replace(
                    identity,
                    up=True,
                    utilization_ratio=f.utilization_ratio,
                    busy_seconds_total=g.busy_seconds if "utilization" not in g.unsupported else None,
                    memory_used_bytes=f.memory_used_bytes,
                    memory_total_bytes=f.memory_total_bytes,
                    power_watts=f.power_watts,
                    power_limit_watts=f.power_limit_watts,
                    energy_joules_total=s.energy_joules_total,
                    temperatures_celsius=tuple(temps),
                    clocks_hertz=f.clocks_hertz,
                    throttle_active=f.throttle_active,
                    pcie_tx_bytes_total=s.pcie_tx_bytes_total,
                    pcie_rx_bytes_total=s.pcie_rx_bytes_total,
                    ecc_errors_total=s.ecc_errors_total,
                )
            )
            migs.extend(g.migs)
        return GpuSnapshot(taken_at=now, backend=self._backend_name, gpus=tuple(samples), migs=tuple(migs))
