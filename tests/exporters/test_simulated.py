"""The simulated NVML behaves like pynvml: same return shapes, real NVMLError subclasses."""

from __future__ import annotations

import pynvml
import pytest

from inferwatch.exporters import nvml
from inferwatch.exporters.simulated import SimulatedNvml


def test_calls_before_init_fail_like_nvml() -> None:
    sim = SimulatedNvml(1)
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        sim.nvmlDeviceGetCount()


def test_return_shapes_match_pynvml() -> None:
    sim = SimulatedNvml(1, clock=lambda: 0.0)
    sim.nvmlInit()
    h = sim.nvmlDeviceGetHandleByIndex(0)
    util = sim.nvmlDeviceGetUtilizationRates(h)
    assert isinstance(util, pynvml.c_nvmlUtilization_t) and util.gpu == 0
    mem = sim.nvmlDeviceGetMemoryInfo(h)
    assert isinstance(mem, pynvml.c_nvmlMemory_t) and mem.used + mem.free == mem.total
    assert sim.nvmlDeviceGetPciInfo(h).busId in ("00000000:18:00.0", b"00000000:18:00.0")
    fields = nvml.read_fields(
        sim, h, [pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT]
    )
    assert fields[pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION].value == 0.0
    assert fields[pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT].value is None
    assert fields[pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT].error == pynvml.NVML_ERROR_NOT_SUPPORTED


def test_faults_raise_real_nvml_error_classes() -> None:
    clock = [0.0]
    sim = SimulatedNvml(2, clock=lambda: clock[0])
    sim.nvmlInit()
    sim.lose_gpu(1, at=5.0)
    h1 = sim.nvmlDeviceGetHandleByIndex(1)
    assert sim.nvmlDeviceGetPowerUsage(h1) == 70000
    clock[0] = 5.0
    with pytest.raises(pynvml.NVMLError_GpuIsLost) as info:
        sim.nvmlDeviceGetPowerUsage(h1)
    assert nvml.error_name(info.value) == "gpu_is_lost"
    sim.make_unsupported(0, "nvmlDeviceGetTemperature")
    with pytest.raises(pynvml.NVMLError_NotSupported):
        sim.nvmlDeviceGetTemperature(sim.nvmlDeviceGetHandleByIndex(0), pynvml.NVML_TEMPERATURE_GPU)


def test_energy_integrates_power_over_the_clock() -> None:
    clock = [0.0]
    sim = SimulatedNvml(1, clock=lambda: clock[0])
    sim.nvmlInit()
    h = sim.nvmlDeviceGetHandleByIndex(0)
    sim.set_load(0, 1.0)
    clock[0] = 10.0
    sim.set_load(0, 0.0)
    clock[0] = 20.0
    assert sim.nvmlDeviceGetTotalEnergyConsumption(h) == 700 * 10 * 1000 + 70 * 10 * 1000


def test_event_wait_times_out_with_nvml_timeout() -> None:
    sim = SimulatedNvml(1)
    sim.nvmlInit()
    es = sim.nvmlEventSetCreate()
    sim.nvmlDeviceRegisterEvents(sim.nvmlDeviceGetHandleByIndex(0), nvml.WATCHED_EVENTS, es)
    with pytest.raises(pynvml.NVMLError_Timeout):
        sim.nvmlEventSetWait(es, 1)
    sim.raise_xid(0, 31)
    event = sim.nvmlEventSetWait(es, 1)
    assert event.eventType == pynvml.nvmlEventTypeXidCriticalError and event.eventData == 31
    assert sim.nvmlDeviceGetUUID(event.device) == sim.gpus[0].uuid
