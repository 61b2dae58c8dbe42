"""GPU metrics from NVML: a background sampler that writes immutable snapshots, and a collector.

`GpuSampler` reads NVML on background workers: fast reads (utilization, memory, power,
temperature, clocks, throttle reasons, MIG memory) every `interval_s`, integrating utilization
into busy seconds; slow reads (total energy, ECC and PCIe byte counters, memory temperature —
one `nvmlDeviceGetFieldValues` call per GPU, plus the MIG mode) every `slow_interval_s`; and Xid /
ECC events from an NVML event set on a worker of their own (`inferwatch.exporters.xid`); MIG
instances are read by `inferwatch.exporters.mig`. Each tick's reads of a GPU become typed,
immutable readings (`FastReading`, `SlowReading`). Each GPU fails alone: an NVML error on one
GPU is counted, and a lost GPU reports `inferwatch_gpu_up 0`, while the others go on; a GPU whose
memory read fails once is down for that tick only and back up at the next good read.
`GpuCollector.collect()` only reads the latest snapshot, so a scrape never calls NVML.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import pynvml
from inferwatch.exporters import mig as mig_reader
from inferwatch.exporters import nvml
from inferwatch.exporters.families import add, family
from inferwatch.exporters.mig import MigProfile, MigSample
from inferwatch.exporters.nvml import NvmlApi, NvmlUnavailableError
from inferwatch.exporters.simulated import MEASURED_H100_LATENCIES_S, SimulatedNvml
from inferwatch.exporters.worker import PeriodicWorker
from inferwatch.exporters.xid import EVENT_WAIT_MS, XidWatcher
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from inferwatch import __version__
from inferwatch import contract as c

log = logging.getLogger(__name__)

__all__ = [
    "FastReading",
    "GpuCollector",
    "GpuSample",
    "GpuSampleAgeCollector",
    "GpuSampler",
    "GpuSnapshot",
    "MigSample",
    "SlowReading",
    "open_backend",
    "snapshot_families",
]

# The memory read is the liveness probe of a GPU: it is never given up as "not supported".
LIVENESS_READ = "memory"


@dataclass(frozen=True)
class FastReading:
    """One GPU's reads of one fast tick (a value NVML could not give is None)."""

    memory_used_bytes: float
    memory_total_bytes: float
    utilization_ratio: float | None = None
    power_watts: float | None = None
    power_limit_watts: float | None = None
    temperature_celsius: float | None = None
    clocks_hertz: tuple[tuple[str, float], ...] = ()
    throttle_active: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class SlowReading:
    """One GPU's reads of the last slow tick (one field-values call; None where NVML had none)."""

    energy_joules_total: float | None = None
    ecc_errors_total: tuple[tuple[str, float], ...] = ()
    pcie_tx_bytes_total: float | None = None
    pcie_rx_bytes_total: float | None = None
    memory_temperature_celsius: float | None = None


@dataclass(frozen=True)
class GpuSample:
    """One physical GPU at one sampling tick; a value NVML could not give is None.

    `read_at` is the sampler's clock at the GPU's last good fast read (None before one): how old
    the values are when NVML stalls or the GPU is down.
    """

    uuid: str
    index: int
    model: str
    pci_bus_id: str
    driver_version: str
    mig_mode: str  # "enabled" / "disabled" / "n/a"
    up: bool
    utilization_ratio: float | None = None
    busy_seconds_total: float | None = None
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    power_watts: float | None = None
    power_limit_watts: float | None = None
    energy_joules_total: float | None = None
    temperatures_celsius: tuple[tuple[str, float], ...] = ()
    clocks_hertz: tuple[tuple[str, float], ...] = ()
    throttle_active: tuple[tuple[str, bool], ...] = ()
    pcie_tx_bytes_total: float | None = None
    pcie_rx_bytes_total: float | None = None
    xid_errors_total: tuple[tuple[int, int], ...] = ()
    ecc_errors_total: tuple[tuple[str, float], ...] = ()
    nvml_errors_total: tuple[tuple[str, int], ...] = ()
    read_at: float | None = None


@dataclass(frozen=True)
class GpuSnapshot:
    """Everything the sampler knows at `taken_at` (the sampler's clock)."""

    taken_at: float
    backend: str
    gpus: tuple[GpuSample, ...]
    migs: tuple[MigSample, ...]


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
    slow: SlowReading = SlowReading()
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


class GpuCollector(Collector):
    """Prometheus collector of the GPU series; `collect()` reads the sampler's snapshot only."""

    def __init__(self, sampler: GpuSampler) -> None:
        """Serve `sampler`'s snapshots."""
        self._sampler = sampler

    def collect(self) -> Iterator[Metric]:
        """The GPU families of the latest snapshot (none before the first one)."""
        snap = self._sampler.snapshot()
        if snap is None:
            return
        yield from snapshot_families(snap)


class GpuSampleAgeCollector(Collector):
    """How old each GPU's values are, computed at every scrape (one cheap gauge per GPU).

    The GPU families are rendered once per snapshot; when NVML stalls no new snapshot comes and
    the rendered values silently age. This collector belongs in the per-scrape registry, so the
    age it serves grows with the stall.
    """

    def __init__(self, sampler: GpuSampler) -> None:
        """Report on `sampler`'s snapshots, on its clock."""
        self._sampler = sampler

    def collect(self) -> Iterator[Metric]:
        """One gauge per GPU that has ever been read (nothing before the first snapshot)."""
        snap = self._sampler.snapshot()
        if snap is None:
            return
        now = self._sampler.clock()
        age = family(c.GPU_SAMPLE_AGE)
        for g in snap.gpus:
            if g.read_at is not None:
                age.add_metric([g.uuid], max(0.0, now - g.read_at))
        yield age


def snapshot_families(snap: GpuSnapshot) -> list[Metric]:
    """Metric families for one snapshot (a pure function of it), in the contract's order."""
    info, up, util, busy = family(c.GPU_INFO), family(c.GPU_UP), family(c.GPU_UTILIZATION), family(c.GPU_BUSY)
    mem_used, mem_total = family(c.GPU_MEMORY_USED), family(c.GPU_MEMORY_TOTAL)
    power, power_limit, energy = family(c.GPU_POWER), family(c.GPU_POWER_LIMIT), family(c.GPU_ENERGY)
    temp, clock, throttle = family(c.GPU_TEMPERATURE), family(c.GPU_CLOCK), family(c.GPU_THROTTLE)
    xid, ecc, pcie, errors = (
        family(c.GPU_XID_ERRORS),
        family(c.GPU_ECC_ERRORS),
        family(c.GPU_PCIE_BYTES),
        family(c.GPU_NVML_ERRORS),
    )
    for s in snap.gpus:
        u = s.uuid
        info.add_metric([u, str(s.index), s.model, s.pci_bus_id, s.driver_version, s.mig_mode], 1)
        up.add_metric([u], 1 if s.up else 0)
        add(util, [u], s.utilization_ratio)
        add(busy, [u], s.busy_seconds_total)
        add(mem_used, [u], s.memory_used_bytes)
        add(mem_total, [u], s.memory_total_bytes)
        add(power, [u], s.power_watts)
        add(power_limit, [u], s.power_limit_watts)
        add(energy, [u], s.energy_joules_total)
        add(pcie, [u, "tx"], s.pcie_tx_bytes_total)
        add(pcie, [u, "rx"], s.pcie_rx_bytes_total)
        for sensor, celsius in s.temperatures_celsius:
            temp.add_metric([u, sensor], celsius)
        for name, hz in s.clocks_hertz:
            clock.add_metric([u, name], hz)
        for reason, active in s.throttle_active:
            throttle.add_metric([u, reason], 1 if active else 0)
        for code, count in s.xid_errors_total:
            xid.add_metric([u, str(code)], count)
        for kind, count_f in s.ecc_errors_total:
            ecc.add_metric([u, kind], count_f)
        for err, count in s.nvml_errors_total:
            errors.add_metric([u, err], count)
    mig_info, mig_ratio = family(c.MIG_INFO), family(c.MIG_SLICE_RATIO)
    mig_used, mig_total = family(c.MIG_MEMORY_USED), family(c.MIG_MEMORY_TOTAL)
    for m in snap.migs:
        mig_info.add_metric([m.mig_uuid, m.gpu_uuid, str(m.gpu_instance_id), str(m.compute_instance_id), m.profile], 1)
        mig_ratio.add_metric([m.mig_uuid, m.gpu_uuid], m.slice_ratio)
        mig_used.add_metric([m.mig_uuid, m.gpu_uuid], m.memory_used_bytes)
        mig_total.add_metric([m.mig_uuid, m.gpu_uuid], m.memory_total_bytes)
    exporter = family(c.EXPORTER_INFO)
    exporter.add_metric([__version__, snap.backend], 1)
    return [info, up, util, busy, mem_used, mem_total, power, power_limit, energy, temp, clock, throttle,
            xid, ecc, pcie, errors, mig_info, mig_ratio, mig_used, mig_total, exporter]  # fmt: skip


def open_backend(
    kind: Literal["nvml", "simulated"],
    *,
    simulated_gpus: int = 2,
    simulated_latencies: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> NvmlApi:
    """The NVML backend to sample: real NVML (raises NvmlUnavailableError without it) or simulated GPUs."""
    if kind == "simulated":
        log.warning("GPU backend is SIMULATED: %d fake GPUs, no real NVML is read (demo/CI only)", simulated_gpus)
        return SimulatedNvml(
            simulated_gpus, latencies_s=MEASURED_H100_LATENCIES_S if simulated_latencies else None, clock=clock
        )
    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as err:
        raise NvmlUnavailableError(str(err)) from err
    api: NvmlApi = pynvml
    return api
