"""GpuSampler and GpuCollector against the simulated NVML, with a fake clock and a private registry."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator

import pynvml
import pytest
from prometheus_client import CollectorRegistry

from inferwatch.exporters.gpu import (
    FastReading,
    GpuCollector,
    GpuSampleAgeCollector,
    GpuSampler,
    SlowReading,
    open_backend,
)
from inferwatch.exporters.nvml import NvmlUnavailableError
from inferwatch.exporters.simulated import SimulatedNvml


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _setup(
    clock: FakeClock, gpus: int = 2, slow: float = 10.0, mig_gpus: dict[int, tuple[int, ...]] | None = None
) -> tuple[SimulatedNvml, GpuSampler, CollectorRegistry]:
    sim = SimulatedNvml(gpus, clock=clock, mig_gpus=mig_gpus)
    sampler = GpuSampler(sim, interval_s=1.0, slow_interval_s=slow, clock=clock)
    registry = CollectorRegistry()
    registry.register(GpuCollector(sampler))
    return sim, sampler, registry


def _v(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_nothing_is_served_before_the_first_sample(clock: FakeClock) -> None:
    _, sampler, registry = _setup(clock)
    assert sampler.snapshot() is None
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid="x") is None
    assert list(registry.collect()) == []


def test_every_contract_series_is_served(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    sim.set_load(0, 0.5, memory_used_bytes=10 * 1024**3)
    sampler.tick()
    u = sim.gpus[0].uuid
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=u) == 1
    assert (
        _v(
            registry,
            "inferwatch_gpu_info",
            gpu_uuid=u,
            gpu_index="0",
            gpu_model="NVIDIA H100 80GB HBM3",
            pci_bus_id="00000000:18:00.0",
            driver_version="580.159.04-simulated",
            mig_mode="disabled",
        )
        == 1
    )
    assert _v(registry, "inferwatch_gpu_utilization_ratio", gpu_uuid=u) == 0.5
    assert _v(registry, "inferwatch_gpu_memory_used_bytes", gpu_uuid=u) == 10 * 1024**3
    assert _v(registry, "inferwatch_gpu_memory_total_bytes", gpu_uuid=u) == 80 * 1024**3
    assert _v(registry, "inferwatch_gpu_power_watts", gpu_uuid=u) == 385.0  # 70 + 0.5 × 630
    assert _v(registry, "inferwatch_gpu_power_limit_watts", gpu_uuid=u) == 700.0
    assert _v(registry, "inferwatch_gpu_temperature_celsius", gpu_uuid=u, sensor="gpu") == 50.0
    assert _v(registry, "inferwatch_gpu_temperature_celsius", gpu_uuid=u, sensor="memory") == 40.0
    assert _v(registry, "inferwatch_gpu_clock_hertz", gpu_uuid=u, clock="memory") == 2619e6
    assert _v(registry, "inferwatch_gpu_throttle_active", gpu_uuid=u, reason="gpu_idle") == 0
    assert _v(registry, "inferwatch_gpu_throttle_active", gpu_uuid=sim.gpus[1].uuid, reason="gpu_idle") == 1
    assert _v(registry, "inferwatch_gpu_energy_joules_total", gpu_uuid=u) == 0.0
    assert _v(registry, "inferwatch_gpu_busy_seconds_total", gpu_uuid=u) == 0.0
    assert _v(registry, "inferwatch_gpu_ecc_errors_total", gpu_uuid=u, type="uncorrectable") == 0.0
    assert _v(registry, "inferwatch_gpu_pcie_bytes_total", gpu_uuid=u, direction="tx") == 0.0
    assert _v(registry, "inferwatch_exporter_info", version="0.1.0", gpu_backend="simulated") == 1


def test_busy_seconds_integrate_utilization_per_tick(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    u = sim.gpus[0].uuid
    sampler.tick()
    for util in (1.0, 0.25, 0.0, 0.5):
        sim.set_load(0, util)
        clock.advance(2.0)
        sampler.tick()
    # each tick weighs the utilization it reads over the time since the previous tick
    assert _v(registry, "inferwatch_gpu_busy_seconds_total", gpu_uuid=u) == pytest.approx(2 * (1.0 + 0.25 + 0.5))
    assert _v(registry, "inferwatch_gpu_busy_seconds_total", gpu_uuid=sim.gpus[1].uuid) == 0.0


def test_slow_counters_follow_their_own_cadence(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock, slow=10.0)
    u = sim.gpus[0].uuid
    sim.set_load(0, 1.0)  # 700 W
    sampler.tick()
    energy0 = _v(registry, "inferwatch_gpu_energy_joules_total", gpu_uuid=u)
    sim.raise_ecc(0)
    for _ in range(5):
        clock.advance(1.0)
        sampler.tick()
    assert _v(registry, "inferwatch_gpu_energy_joules_total", gpu_uuid=u) == energy0  # not due yet
    assert _v(registry, "inferwatch_gpu_ecc_errors_total", gpu_uuid=u, type="correctable") == 0.0
    clock.advance(5.0)
    sampler.tick()
    assert _v(registry, "inferwatch_gpu_energy_joules_total", gpu_uuid=u) == pytest.approx(7000.0)
    assert _v(registry, "inferwatch_gpu_ecc_errors_total", gpu_uuid=u, type="correctable") == 1.0


def test_a_gpu_lost_mid_run_fails_alone(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    lost, ok = sim.gpus[1].uuid, sim.gpus[0].uuid
    sim.set_load(0, 0.5)
    sim.set_load(1, 0.5)
    sampler.tick()
    sim.lose_gpu(1, at=clock.now + 1.5)
    clock.advance(1.0)
    sampler.tick()
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=lost) == 1
    for _ in range(3):
        clock.advance(1.0)
        sampler.tick()
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=lost) == 0
    assert _v(registry, "inferwatch_gpu_nvml_errors_total", gpu_uuid=lost, error="gpu_is_lost") == 3
    assert _v(registry, "inferwatch_gpu_utilization_ratio", gpu_uuid=lost) is None
    assert _v(registry, "inferwatch_gpu_busy_seconds_total", gpu_uuid=lost) is None
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=ok) == 1
    assert _v(registry, "inferwatch_gpu_busy_seconds_total", gpu_uuid=ok) == pytest.approx(2.0)
    assert _v(registry, "inferwatch_gpu_nvml_errors_total", gpu_uuid=ok, error="gpu_is_lost") is None


def test_an_unsupported_read_is_left_out_and_tried_once(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    u = sim.gpus[0].uuid
    sim.make_unsupported(0, "nvmlDeviceGetPowerUsage")
    for _ in range(3):
        sampler.tick()
        clock.advance(1.0)
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=u) == 1
    assert _v(registry, "inferwatch_gpu_power_watts", gpu_uuid=u) is None
    assert _v(registry, "inferwatch_gpu_power_limit_watts", gpu_uuid=u) == 700.0
    assert _v(registry, "inferwatch_gpu_nvml_errors_total", gpu_uuid=u, error="not_supported") == 1


def test_a_gpu_is_up_again_at_the_next_good_read_after_one_not_supported_memory_read(clock: FakeClock) -> None:
    """Issue 17: one "not supported" memory read used to keep the GPU at up 0 until a restart."""
    sim, sampler, registry = _setup(clock)
    u = sim.gpus[0].uuid
    sampler.tick()
    sim.make_unsupported(0, "nvmlDeviceGetMemoryInfo")
    clock.advance(1.0)
    sampler.tick()
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=u) == 0
    assert _v(registry, "inferwatch_gpu_memory_used_bytes", gpu_uuid=u) is None
    sim.gpus[0].unsupported.discard("nvmlDeviceGetMemoryInfo")
    clock.advance(1.0)
    sampler.tick()
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=u) == 1
    assert _v(registry, "inferwatch_gpu_memory_used_bytes", gpu_uuid=u) == 1024**3
    assert _v(registry, "inferwatch_gpu_nvml_errors_total", gpu_uuid=u, error="not_supported") == 1


def test_sample_age_shows_values_going_stale_while_nvml_stalls(clock: FakeClock) -> None:
    """Issue 17: with NVML calls hanging, /metrics stayed fast but its values silently old."""
    sim, sampler, _ = _setup(clock)
    ages = CollectorRegistry()
    ages.register(GpuSampleAgeCollector(sampler))
    u0, u1 = sim.gpus[0].uuid, sim.gpus[1].uuid
    assert list(ages.collect()) == []  # nothing before the first snapshot
    sampler.tick()
    assert _v(ages, "inferwatch_gpu_sample_age_seconds", gpu_uuid=u0) == 0.0
    clock.advance(5.0)  # a tick stuck in NVML: no new snapshot, yet each scrape sees the age grow
    assert _v(ages, "inferwatch_gpu_sample_age_seconds", gpu_uuid=u0) == 5.0
    sim.lose_gpu(1)
    sampler.tick()
    clock.advance(2.0)
    assert _v(ages, "inferwatch_gpu_sample_age_seconds", gpu_uuid=u0) == 2.0
    assert _v(ages, "inferwatch_gpu_sample_age_seconds", gpu_uuid=u1) == 7.0  # down: its last values age on


def test_the_sampler_keeps_typed_readings(clock: FakeClock) -> None:
    sim, sampler, _ = _setup(clock)
    sim.set_load(0, 0.5)
    sampler.tick()
    state = sampler._gpus[0]  # the per-GPU state is typed, frozen readings, not dicts
    assert isinstance(state.fast, FastReading) and isinstance(state.slow, SlowReading)
    assert state.fast.utilization_ratio == 0.5 and state.slow.energy_joules_total == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.fast.power_watts = 1.0  # type: ignore[misc]


def test_energy_falls_back_when_the_field_is_unsupported(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock, slow=1.0)
    sim.make_unsupported(0, f"field:{pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION}")
    sim.set_load(0, 1.0)
    sampler.tick()
    clock.advance(2.0)
    sampler.tick()
    assert _v(registry, "inferwatch_gpu_energy_joules_total", gpu_uuid=sim.gpus[0].uuid) == pytest.approx(1400.0)


def test_mig_instances_are_enumerated_and_the_parent_stays_up(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock, mig_gpus={1: (3, 2, 1)})
    sampler.tick()
    clock.advance(1.0)
    sampler.tick()
    snap = sampler.snapshot()
    assert snap is not None
    parent = sim.gpus[1].uuid
    migs = [m for m in snap.migs if m.gpu_uuid == parent]
    assert [(m.gpu_instance_id, m.slices, m.max_slices, m.profile) for m in migs] == [
        (1, 3, 7, "3g.40gb"),  # NVML's profile name: 40192 MiB is not "40 GiB" when computed
        (2, 2, 7, "2g.20gb"),
        (3, 1, 7, "1g.10gb"),  # the base profile, not its "+me" twin of the same size
    ]
    assert migs[0].memory_total_bytes == 40192 * 2**20
    assert migs[0].memory_used_bytes == migs[0].memory_total_bytes / 4
    mig = migs[0].mig_uuid
    assert _v(registry, "inferwatch_gpu_mig_slice_ratio", mig_uuid=mig, gpu_uuid=parent) == pytest.approx(3 / 7)
    assert (
        _v(
            registry,
            "inferwatch_gpu_mig_info",
            mig_uuid=mig,
            gpu_uuid=parent,
            gpu_instance_id="1",
            compute_instance_id="0",
            profile="3g.40gb",
        )
        == 1
    )
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=parent) == 1
    assert _v(registry, "inferwatch_gpu_utilization_ratio", gpu_uuid=parent) is None  # NVML: not on MIG
    assert _v(registry, "inferwatch_gpu_memory_used_bytes", gpu_uuid=parent) is not None
    assert snap.gpus[1].mig_mode == "enabled" and snap.gpus[0].mig_mode == "disabled"


def test_only_configured_uuids_are_read(clock: FakeClock) -> None:
    sim = SimulatedNvml(3, clock=clock)
    sampler = GpuSampler(sim, interval_s=1, slow_interval_s=1, only_uuids=[sim.gpus[2].uuid, "GPU-absent"], clock=clock)
    snap = sampler.tick()
    assert [g.index for g in snap.gpus] == [2]


def test_a_scrape_never_calls_nvml(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    sim.set_load(0, 0.75)
    sampler.tick()
    sim.lose_gpu(0)
    sim.lose_gpu(1)  # any NVML call now fails; the served values must be those of the snapshot
    assert _v(registry, "inferwatch_gpu_utilization_ratio", gpu_uuid=sim.gpus[0].uuid) == 0.75
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=sim.gpus[1].uuid) == 1


def test_background_threads_sample_and_count_xid_events() -> None:
    sim = SimulatedNvml(2)
    sampler = GpuSampler(sim, interval_s=0.05, slow_interval_s=0.05)
    registry = CollectorRegistry()
    registry.register(GpuCollector(sampler))
    sampler.start()
    try:
        assert sampler.snapshot() is not None  # start() takes the first sample before returning
        sim.raise_xid(1, 79)
        sim.raise_xid(1, 79)
        sim.raise_xid(1, 48)
        labels = {"gpu_uuid": sim.gpus[1].uuid, "xid": "79"}
        deadline = time.monotonic() + 10
        while registry.get_sample_value("inferwatch_gpu_xid_errors_total", labels) != 2.0:
            assert time.monotonic() < deadline, "Xid events were not counted"
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while registry.get_sample_value("inferwatch_gpu_xid_errors_total", {**labels, "xid": "48"}) != 1.0:
            assert time.monotonic() < deadline, "Xid 48 was not counted"
            time.sleep(0.02)
        assert (
            registry.get_sample_value("inferwatch_gpu_xid_errors_total", {**labels, "gpu_uuid": sim.gpus[0].uuid})
            is None
        )
    finally:
        sampler.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("inferwatch-gpu")]
    assert sampler.snapshot() is not None  # the last snapshot stays readable after stop


def test_open_backend_without_nvml_stops_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    with pytest.raises(NvmlUnavailableError) as info:
        open_backend("nvml")
    assert info.value.exit_code == 2
    assert "--gpu-backend simulated" in str(info.value)
    assert "no NVIDIA driver or GPU" in str(info.value)


def test_open_backend_simulated_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="inferwatch.exporters.gpu"):
        backend = open_backend("simulated", simulated_gpus=3)
    assert isinstance(backend, SimulatedNvml) and len(backend.gpus) == 3
    assert any("SIMULATED" in r.getMessage() for r in caplog.records)


@pytest.fixture
def started_sampler() -> Iterator[GpuSampler]:
    sampler = GpuSampler(SimulatedNvml(1), interval_s=0.05, slow_interval_s=0.05)
    sampler.start()
    yield sampler
    sampler.stop()


def test_sampler_rejects_a_bad_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        GpuSampler(SimulatedNvml(1), interval_s=0, slow_interval_s=1)


def test_snapshots_are_replaced_not_mutated(started_sampler: GpuSampler) -> None:
    first = started_sampler.snapshot()
    assert first is not None
    deadline = time.monotonic() + 10
    while started_sampler.snapshot() is first:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(first.gpus[0], "up", False)  # noqa: B010 - proving the dataclass refuses it


def test_a_gpu_lost_while_the_threads_run_does_not_stop_the_others() -> None:
    sim = SimulatedNvml(2)
    sampler = GpuSampler(sim, interval_s=0.02, slow_interval_s=0.02)
    registry = CollectorRegistry()
    registry.register(GpuCollector(sampler))
    sampler.start()
    try:
        sim.lose_gpu(0)
        sim.set_load(1, 1.0)
        lost, ok = {"gpu_uuid": sim.gpus[0].uuid}, {"gpu_uuid": sim.gpus[1].uuid}
        deadline = time.monotonic() + 10
        while registry.get_sample_value("inferwatch_gpu_up", lost) != 0.0:
            assert time.monotonic() < deadline, "the lost GPU was never reported down"
            time.sleep(0.01)
        busy0 = registry.get_sample_value("inferwatch_gpu_busy_seconds_total", ok)
        assert busy0 is not None
        deadline = time.monotonic() + 10
        while (registry.get_sample_value("inferwatch_gpu_busy_seconds_total", ok) or 0.0) <= busy0:
            assert time.monotonic() < deadline, "the healthy GPU stopped being sampled"
            time.sleep(0.01)
        assert registry.get_sample_value("inferwatch_gpu_up", ok) == 1.0
    finally:
        sampler.stop()


def test_a_gpu_lost_before_start_is_down_and_the_others_are_sampled(clock: FakeClock) -> None:
    sim, sampler, registry = _setup(clock)
    sim.lose_gpu(0, at=clock.now)  # lost before start: not even its UUID can be read
    snap = sampler.tick()
    assert [g.uuid for g in snap.gpus] == [sim.gpus[1].uuid]
    assert _v(registry, "inferwatch_gpu_up", gpu_uuid=sim.gpus[1].uuid) == 1
