"""GPU metrics from NVML: a background sampler that writes immutable snapshots, and a collector.

`GpuSampler` reads NVML on background threads: fast reads (utilization, memory, power,
temperature, clocks, throttle reasons, MIG memory) every `interval_s`, integrating utilization
into busy seconds; slow reads (total energy, ECC and PCIe byte counters, memory temperature —
one `nvmlDeviceGetFieldValues` call per GPU, plus the MIG mode) every `slow_interval_s`; and Xid /
ECC events from an NVML event set on a thread of their own. Each GPU fails alone: an NVML error
on one GPU is counted, and a lost GPU reports `inferwatch_gpu_up 0`, while the others go on.
`GpuCollector.collect()` only reads the latest snapshot, so a scrape never calls NVML.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import pynvml
from inferwatch.exporters import nvml
from inferwatch.exporters.nvml import NvmlApi, NvmlUnavailableError
from inferwatch.exporters.simulated import MEASURED_H100_LATENCIES_S, SimulatedNvml
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inferwatch import __version__

log = logging.getLogger(__name__)

EVENT_WAIT_MS = 500


@dataclass(frozen=True)
class GpuSample:
    """One physical GPU at one sampling tick; a value NVML could not give is None."""

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


@dataclass(frozen=True)
class GpuSnapshot:
    """Everything the sampler knows at `taken_at` (the sampler's clock)."""

    taken_at: float
    backend: str
    gpus: tuple[GpuSample, ...]
    migs: tuple[MigSample, ...]


@dataclass
class _GpuState:
    """Mutable per-GPU state, touched only under the sampler's lock."""

    handle: Any
    uuid: str
    index: int
    model: str
    pci_bus_id: str
    up: bool = True
    down_logged: bool = False
    mig_enabled: bool | None = None
    max_slices: int = 0
    mig_profiles: tuple[tuple[int, int, str], ...] = ()  # (slices, memory MiB, name), by profile id
    busy_seconds: float = 0.0
    last_tick: float | None = None
    unsupported: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)
    xids: dict[int, int] = field(default_factory=dict)
    fast: dict[str, Any] = field(default_factory=dict)
    slow: dict[str, Any] = field(default_factory=dict)
    migs: tuple[MigSample, ...] = ()


class GpuSampler:
    """Samples NVML on background threads into an immutable `GpuSnapshot` (see the module docstring)."""

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
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._event_set: Any = None

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
        self._register_events()
        self._opened = True

    @staticmethod
    def _identity(handle: Any, uuid: str, read: Callable[[Any], str]) -> str:
        try:
            return read(handle)
        except pynvml.NVMLError as err:
            log.warning("GPU %s: identity read failed (%s); labelled unknown", uuid, err)
            return "unknown"

    def start(self) -> None:
        """Open NVML, take the first sample synchronously, then keep sampling on background threads."""
        self.open()
        self.tick()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._run_ticks, name="inferwatch-gpu-sampler", daemon=True)]
        if self._event_set is not None:
            self._threads.append(threading.Thread(target=self._run_events, name="inferwatch-gpu-events", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop the threads and shut NVML down; the last snapshot stays readable."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5 + EVENT_WAIT_MS / 1000)
        self._threads = []
        if not self._opened:
            return
        if self._event_set is not None:
            try:
                self._api.nvmlEventSetFree(self._event_set)
            except pynvml.NVMLError as err:
                log.warning("freeing the NVML event set failed: %s", err)
            self._event_set = None
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
        return self._event_set is not None

    def _run_ticks(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # a bug must not silently stop sampling forever: log it and go on
                log.exception("GPU sampling tick failed")

    def _run_events(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_events(EVENT_WAIT_MS)
            except Exception:
                log.exception("GPU event wait failed")
                self._stop.wait(1.0)

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
        if code in nvml.UNSUPPORTED_ERRORS:
            gpu.unsupported.add(name)
            log.info("GPU %s: %s is not supported here; leaving it out", gpu.uuid, name)
        elif code in nvml.LOST_ERRORS:
            if not gpu.down_logged:
                log.error("GPU %s is down: %s failed with %s", gpu.uuid, name, err)
                gpu.down_logged = True
            gpu.up = False
        else:
            log.warning("GPU %s: %s failed: %s", gpu.uuid, name, err)

    def _sample_gpu(self, gpu: _GpuState, now: float, slow: bool) -> None:
        api, h = self._api, gpu.handle
        gpu.up = True
        mem = self._read(gpu, "memory", lambda: api.nvmlDeviceGetMemoryInfo(h))
        if not gpu.up or mem is None:
            # Every GPU answers a memory read; without one, nothing else of this tick is trusted.
            gpu.up = False
            gpu.fast, gpu.migs, gpu.last_tick = {}, (), None
            return
        if gpu.down_logged:
            log.warning("GPU %s answers again", gpu.uuid)
            gpu.down_logged = False
        fast: dict[str, Any] = {"memory_used": float(mem.used), "memory_total": float(mem.total)}
        util = self._read(gpu, "utilization", lambda: api.nvmlDeviceGetUtilizationRates(h))
        if util is not None:
            ratio = float(util.gpu) / 100.0
            fast["utilization"] = ratio
            if gpu.last_tick is not None:
                # NVML's utilization is the busy fraction of its last sample period (≤ 1 s), so it
                # weighs the time since the previous tick; ticks at ≥ 1 Hz make any window exact.
                gpu.busy_seconds += ratio * max(0.0, now - gpu.last_tick)
            gpu.last_tick = now
        power = self._read(gpu, "power", lambda: api.nvmlDeviceGetPowerUsage(h))
        if power is not None:
            fast["power"] = power / 1000.0
        limit = self._read(gpu, "power_limit", lambda: api.nvmlDeviceGetEnforcedPowerLimit(h))
        if limit is not None:
            fast["power_limit"] = limit / 1000.0
        temp = self._read(gpu, "temperature", lambda: api.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))
        if temp is not None:
            fast["temperature"] = float(temp)
        clocks: list[tuple[str, float]] = []
        for label, clock_type in nvml.CLOCKS:
            mhz = self._read(gpu, f"clock_{label}", partial(api.nvmlDeviceGetClockInfo, h, clock_type))
            if mhz is not None:
                clocks.append((label, float(mhz) * 1e6))
        fast["clocks"] = tuple(clocks)
        mask = self._read(gpu, "throttle", lambda: api.nvmlDeviceGetCurrentClocksEventReasons(h))
        if mask is not None:
            fast["throttle"] = tuple((label, bool(mask & bit)) for label, bit in nvml.THROTTLE_REASONS)
        if not gpu.up:
            gpu.fast, gpu.migs, gpu.last_tick = {}, (), None
            return
        if slow:
            self._sample_slow(gpu)
        gpu.fast = fast
        gpu.migs = self._sample_migs(gpu) if gpu.mig_enabled else ()

    def _sample_slow(self, gpu: _GpuState) -> None:
        api, h = self._api, gpu.handle
        mode = self._read(gpu, "mig_mode", lambda: api.nvmlDeviceGetMigMode(h))
        if mode is not None:
            enabled = int(mode[0]) == pynvml.NVML_DEVICE_MIG_ENABLE
            if enabled and not gpu.mig_profiles:
                gpu.mig_profiles = self._mig_profiles(gpu)
                gpu.max_slices = max((sl for sl, _, _ in gpu.mig_profiles), default=7)
            gpu.mig_enabled = enabled
        fields = self._read(gpu, "field_values", lambda: nvml.read_fields(api, h, nvml.SLOW_FIELDS))
        slow: dict[str, Any] = {}
        if fields is not None:
            energy = fields[nvml.FIELD_ENERGY_MJ].value
            if energy is None:
                raw = self._read(gpu, "total_energy", lambda: api.nvmlDeviceGetTotalEnergyConsumption(h))
                energy = float(raw) if raw is not None else None
            if energy is not None:
                slow["energy"] = energy / 1000.0
            ecc = []
            for label, fid in (
                ("correctable", nvml.FIELD_ECC_SBE_VOLATILE),
                ("uncorrectable", nvml.FIELD_ECC_DBE_VOLATILE),
            ):
                value = fields[fid].value
                if value is not None:
                    ecc.append((label, value))
            slow["ecc"] = tuple(ecc)
            slow["pcie_tx"] = fields[nvml.FIELD_PCIE_TX_BYTES].value
            slow["pcie_rx"] = fields[nvml.FIELD_PCIE_RX_BYTES].value
            slow["memory_temperature"] = fields[nvml.FIELD_MEMORY_TEMP].value
        if gpu.up:
            gpu.slow = slow

    def _mig_profiles(self, gpu: _GpuState) -> tuple[tuple[int, int, str], ...]:
        """The GPU instance profiles this GPU offers (read once; profiles a GPU lacks are skipped)."""
        out: list[tuple[int, int, str]] = []
        for profile in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
            try:
                info = self._api.nvmlDeviceGetGpuInstanceProfileInfo(gpu.handle, profile)
            except pynvml.NVMLError:
                continue
            name = nvml.as_text(info.name).removeprefix("MIG ").strip()
            out.append((int(info.sliceCount), int(info.memorySizeMB), name))
        return tuple(out)

    @staticmethod
    def _profile_name(gpu: _GpuState, slices: int, memory_mib: int) -> str:
        """NVML's name of the profile with these slices and memory (the base one first), else a derived name."""
        for sl, mib, name in gpu.mig_profiles:
            if sl == slices and mib == memory_mib and name:
                return name
        return f"{slices}g.{round(memory_mib / 1024)}gb"

    def _sample_migs(self, gpu: _GpuState) -> tuple[MigSample, ...]:
        api = self._api
        count = self._read(gpu, "mig_count", lambda: api.nvmlDeviceGetMaxMigDeviceCount(gpu.handle))
        out: list[MigSample] = []
        for i in range(count or 0):
            try:
                mh = api.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, i)
            except pynvml.NVMLError as err:
                if nvml.error_code(err) != pynvml.NVML_ERROR_NOT_FOUND:  # NOT_FOUND: an empty slot
                    self._note_error(gpu, "mig_handle", err)
                continue
            sample = self._read(gpu, "mig_device", partial(self._mig_sample, gpu, mh))
            if sample is not None:
                out.append(sample)
        return tuple(out)

    def _mig_sample(self, gpu: _GpuState, mh: Any) -> MigSample:
        api = self._api
        attrs = api.nvmlDeviceGetAttributes(mh)
        mem = api.nvmlDeviceGetMemoryInfo(mh)
        slices = int(attrs.gpuInstanceSliceCount)
        return MigSample(
            mig_uuid=nvml.as_text(api.nvmlDeviceGetUUID(mh)),
            gpu_uuid=gpu.uuid,
            gpu_instance_id=int(api.nvmlDeviceGetGpuInstanceId(mh)),
            compute_instance_id=int(api.nvmlDeviceGetComputeInstanceId(mh)),
            profile=self._profile_name(gpu, slices, int(attrs.memorySizeMB)),
            slices=slices,
            max_slices=gpu.max_slices or 7,
            memory_used_bytes=float(mem.used),
            memory_total_bytes=float(mem.total),
        )

    # ----- events -------------------------------------------------------------------------------
    def _register_events(self) -> None:
        try:
            self._event_set = self._api.nvmlEventSetCreate()
        except pynvml.NVMLError as err:
            log.warning("no NVML event set (%s): Xid errors will not be counted", err)
            return
        registered = 0
        for gpu in self._gpus:
            try:
                supported = int(self._api.nvmlDeviceGetSupportedEventTypes(gpu.handle))
                wanted = supported & nvml.WATCHED_EVENTS
                if wanted:
                    self._api.nvmlDeviceRegisterEvents(gpu.handle, wanted, self._event_set)
                    registered += 1
            except pynvml.NVMLError as err:
                log.warning("GPU %s: cannot register Xid/ECC events: %s", gpu.uuid, err)
        if not registered:
            self._api.nvmlEventSetFree(self._event_set)
            self._event_set = None

    def poll_events(self, timeout_ms: int) -> int:
        """Wait up to `timeout_ms` for one NVML event and count it; returns how many were handled."""
        if self._event_set is None:
            return 0
        try:
            event = self._api.nvmlEventSetWait(self._event_set, timeout_ms)
        except pynvml.NVMLError as err:
            if nvml.error_code(err) != pynvml.NVML_ERROR_TIMEOUT:
                log.warning("waiting for NVML events failed: %s", err)
                self._stop.wait(timeout_ms / 1000)
            return 0
        try:
            uuid = nvml.as_text(self._api.nvmlDeviceGetUUID(event.device))
        except pynvml.NVMLError as err:
            log.warning("NVML event 0x%x from an unreadable device: %s", int(event.eventType), err)
            return 0
        gpu = next((g for g in self._gpus if g.uuid == uuid), None)
        if gpu is None:
            return 0
        kind, data = int(event.eventType), int(event.eventData)
        if kind & nvml.EVENT_XID:
            with self._lock:
                gpu.xids[data] = gpu.xids.get(data, 0) + 1
            log.error("GPU %s: Xid %d", gpu.uuid, data)
        if kind & (nvml.EVENT_ECC_SINGLE | nvml.EVENT_ECC_DOUBLE):
            log.warning("GPU %s: ECC error event 0x%x; re-reading ECC counters next tick", gpu.uuid, kind)
            self._slow_due = True
        return 1

    # ----- snapshot -----------------------------------------------------------------------------
    def _build_snapshot(self, now: float) -> GpuSnapshot:
        samples: list[GpuSample] = []
        migs: list[MigSample] = []
        with self._lock:
            for g in self._gpus:
                mig_mode = "n/a" if g.mig_enabled is None else ("enabled" if g.mig_enabled else "disabled")
                identity: dict[str, Any] = {
                    "uuid": g.uuid,
                    "index": g.index,
                    "model": g.model,
                    "pci_bus_id": g.pci_bus_id,
                    "driver_version": self._driver,
                    "mig_mode": mig_mode,
                    "xid_errors_total": tuple(sorted(g.xids.items())),
                    "nvml_errors_total": tuple(sorted(g.errors.items())),
                }
                if not g.up:
                    samples.append(GpuSample(up=False, **identity))
                    continue
                f, s = g.fast, g.slow
                temps = [("gpu", f["temperature"])] if "temperature" in f else []
                if s.get("memory_temperature") is not None:
                    temps.append(("memory", s["memory_temperature"]))
                samples.append(
                    GpuSample(
                        up=True,
                        utilization_ratio=f.get("utilization"),
                        busy_seconds_total=g.busy_seconds if "utilization" not in g.unsupported else None,
                        memory_used_bytes=f.get("memory_used"),
                        memory_total_bytes=f.get("memory_total"),
                        power_watts=f.get("power"),
                        power_limit_watts=f.get("power_limit"),
                        energy_joules_total=s.get("energy"),
                        temperatures_celsius=tuple(temps),
                        clocks_hertz=f.get("clocks", ()),
                        throttle_active=f.get("throttle", ()),
                        pcie_tx_bytes_total=s.get("pcie_tx"),
                        pcie_rx_bytes_total=s.get("pcie_rx"),
                        ecc_errors_total=s.get("ecc", ()),
                        **identity,
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


def snapshot_families(snap: GpuSnapshot) -> list[Metric]:
    """Metric families for one snapshot (a pure function of it)."""
    g = "gpu_uuid"
    info = GaugeMetricFamily(
        "inferwatch_gpu_info",
        "GPU identity (=1)",
        labels=[g, "gpu_index", "gpu_model", "pci_bus_id", "driver_version", "mig_mode"],
    )
    up = GaugeMetricFamily("inferwatch_gpu_up", "1 when NVML answers for the GPU, 0 when lost", labels=[g])
    util = GaugeMetricFamily("inferwatch_gpu_utilization_ratio", "GPU busy fraction (0-1)", labels=[g])
    busy = CounterMetricFamily("inferwatch_gpu_busy_seconds", "utilization integrated over time", labels=[g])
    mem_used = GaugeMetricFamily("inferwatch_gpu_memory_used_bytes", "framebuffer memory used", labels=[g])
    mem_total = GaugeMetricFamily("inferwatch_gpu_memory_total_bytes", "framebuffer memory size", labels=[g])
    power = GaugeMetricFamily("inferwatch_gpu_power_watts", "board power draw", labels=[g])
    power_limit = GaugeMetricFamily("inferwatch_gpu_power_limit_watts", "enforced power limit", labels=[g])
    energy = CounterMetricFamily("inferwatch_gpu_energy_joules", "energy since the driver loaded", labels=[g])
    temp = GaugeMetricFamily("inferwatch_gpu_temperature_celsius", "temperature per sensor", labels=[g, "sensor"])
    clock = GaugeMetricFamily("inferwatch_gpu_clock_hertz", "current clock", labels=[g, "clock"])
    throttle = GaugeMetricFamily(
        "inferwatch_gpu_throttle_active", "1 while a clock event reason holds", labels=[g, "reason"]
    )
    xid = CounterMetricFamily("inferwatch_gpu_xid_errors", "Xid critical errors seen", labels=[g, "xid"])
    ecc = CounterMetricFamily("inferwatch_gpu_ecc_errors", "volatile ECC errors", labels=[g, "type"])
    pcie = CounterMetricFamily("inferwatch_gpu_pcie_bytes", "PCIe bytes moved", labels=[g, "direction"])
    errors = CounterMetricFamily("inferwatch_gpu_nvml_errors", "NVML calls that failed", labels=[g, "error"])
    for s in snap.gpus:
        u = s.uuid
        info.add_metric([u, str(s.index), s.model, s.pci_bus_id, s.driver_version, s.mig_mode], 1)
        up.add_metric([u], 1 if s.up else 0)
        _maybe(util, [u], s.utilization_ratio)
        _maybe(busy, [u], s.busy_seconds_total)
        _maybe(mem_used, [u], s.memory_used_bytes)
        _maybe(mem_total, [u], s.memory_total_bytes)
        _maybe(power, [u], s.power_watts)
        _maybe(power_limit, [u], s.power_limit_watts)
        _maybe(energy, [u], s.energy_joules_total)
        _maybe(pcie, [u, "tx"], s.pcie_tx_bytes_total)
        _maybe(pcie, [u, "rx"], s.pcie_rx_bytes_total)
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
    mig_labels = ["mig_uuid", g, "gpu_instance_id", "compute_instance_id", "profile"]
    mig_info = GaugeMetricFamily("inferwatch_gpu_mig_info", "MIG instance identity (=1)", labels=mig_labels)
    mig_ratio = GaugeMetricFamily(
        "inferwatch_gpu_mig_slice_ratio", "MIG instance's share of its GPU (slices/max)", labels=["mig_uuid", g]
    )
    mig_used = GaugeMetricFamily("inferwatch_gpu_mig_memory_used_bytes", "MIG memory used", labels=["mig_uuid", g])
    mig_total = GaugeMetricFamily("inferwatch_gpu_mig_memory_total_bytes", "MIG memory size", labels=["mig_uuid", g])
    for m in snap.migs:
        mig_info.add_metric([m.mig_uuid, m.gpu_uuid, str(m.gpu_instance_id), str(m.compute_instance_id), m.profile], 1)
        mig_ratio.add_metric([m.mig_uuid, m.gpu_uuid], m.slices / m.max_slices if m.max_slices else 0.0)
        mig_used.add_metric([m.mig_uuid, m.gpu_uuid], m.memory_used_bytes)
        mig_total.add_metric([m.mig_uuid, m.gpu_uuid], m.memory_total_bytes)
    exporter = GaugeMetricFamily(
        "inferwatch_exporter_info", "exporter build and GPU backend (=1)", labels=["version", "gpu_backend"]
    )
    exporter.add_metric([__version__, snap.backend], 1)
    return [info, up, util, busy, mem_used, mem_total, power, power_limit, energy, temp, clock, throttle,
            xid, ecc, pcie, errors, mig_info, mig_ratio, mig_used, mig_total, exporter]  # fmt: skip


def _maybe(family: GaugeMetricFamily | CounterMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None:
        family.add_metric(labels, value)


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
