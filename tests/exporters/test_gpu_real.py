"""Proof on a real NVIDIA GPU: the sampler reads real NVML while a PyTorch matmul load runs.

Run on a GPU machine with `pytest -m gpu tests/exporters/test_gpu_real.py`. CI has no GPU: the
default options deselect the `gpu` marker, and without NVML (or PyTorch) the module skips
with the reason.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

pynvml = pytest.importorskip("pynvml")

try:
    pynvml.nvmlInit()
    pynvml.nvmlShutdown()
except pynvml.NVMLError as _err:  # no driver / no GPU: this module cannot prove anything here
    pytest.skip(f"needs a real NVIDIA GPU with NVML ({_err}); CI has none", allow_module_level=True)
pytest.importorskip("torch", reason="the GPU load is a PyTorch matmul; PyTorch is not installed")

from inferwatch import contract  # noqa: E402
from inferwatch.exporters.gpu import (  # noqa: E402
    GpuCollector,
    GpuSampleAgeCollector,
    GpuSampler,
    GpuSnapshot,
    open_backend,
)
from tests.support.exporter import CONTRACT_GPU_SERIES, exporter_process, scrape  # noqa: E402

pytestmark = pytest.mark.gpu

LOAD_SECONDS = 14.0
HOLD_BYTES = 16 * 1024**3

# Runs in its own process so the GIL and CUDA context of the test stay out of the measurement.
_LOAD = f"""
import sys, time, torch
hold = torch.empty({HOLD_BYTES}, dtype=torch.uint8, device="cuda")
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
print("ready", flush=True)
end = time.monotonic() + {LOAD_SECONDS}
while time.monotonic() < end:
    for _ in range(20):
        c = a @ b
    torch.cuda.synchronize()
print("done", flush=True)
sys.stdin.readline()  # keep the memory held until the test has compared it with nvidia-smi
"""


@pytest.fixture
def sampler() -> Iterator[GpuSampler]:
    """A started sampler on real NVML, GPU 0 only, fast and slow reads both at 0.5 s."""
    backend = open_backend("nvml")
    backend.nvmlInit()
    try:
        uuid0 = pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(0))
    finally:
        backend.nvmlShutdown()
    s = GpuSampler(backend, interval_s=0.5, slow_interval_s=0.5, only_uuids=[str(uuid0)])
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _nvidia_smi_used_bytes(uuid: str) -> float:
    out = subprocess.run(
        ["nvidia-smi", f"--id={uuid}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return float(out.strip().splitlines()[0]) * 1024**2


def _collect_during(sampler: GpuSampler, until: float) -> list[GpuSnapshot]:
    snaps: list[GpuSnapshot] = []
    while time.monotonic() < until:
        snap = sampler.snapshot()
        if snap is not None and (not snaps or snap.taken_at != snaps[-1].taken_at):
            snaps.append(snap)
        time.sleep(0.1)
    return snaps


def test_matmul_load_is_seen_by_the_sampler(sampler: GpuSampler) -> None:
    """Utilization > 50 %, busy seconds follow it, energy = mean power × time (±15 %), memory = nvidia-smi."""
    load = subprocess.Popen([sys.executable, "-c", _LOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert load.stdout is not None and load.stdin is not None
        assert load.stdout.readline().strip() == "ready"
        started = time.monotonic()
        time.sleep(2.0)  # past the clock ramp-up and NVML's utilization sample period
        snaps = _collect_during(sampler, started + LOAD_SECONDS - 1.0)
        first, last = snaps[0].gpus[0], snaps[-1].gpus[0]
        assert first.up and last.up
        elapsed = snaps[-1].taken_at - snaps[0].taken_at
        assert elapsed > 8.0

        utils = [s.gpus[0].utilization_ratio for s in snaps if s.gpus[0].utilization_ratio is not None]
        mean_util = statistics.fmean(utils)
        assert mean_util > 0.5, utils

        assert first.busy_seconds_total is not None and last.busy_seconds_total is not None
        busy = last.busy_seconds_total - first.busy_seconds_total
        assert busy > 0.5 * elapsed
        assert busy == pytest.approx(mean_util * elapsed, rel=0.15)

        powers = [s.gpus[0].power_watts for s in snaps[1:] if s.gpus[0].power_watts is not None]
        assert first.energy_joules_total is not None and last.energy_joules_total is not None
        energy = last.energy_joules_total - first.energy_joules_total
        assert energy == pytest.approx(statistics.fmean(powers) * elapsed, rel=0.15), (energy, powers, elapsed)

        assert load.stdout.readline().strip() == "done"
        time.sleep(1.2)  # two more ticks, so the snapshot's memory reading is of the idle-but-holding process
        smi = _nvidia_smi_used_bytes(first.uuid)
        snap = sampler.snapshot()
        assert snap is not None
        ours = snap.gpus[0].memory_used_bytes
        assert ours is not None and ours > HOLD_BYTES
        assert ours == pytest.approx(smi, abs=1024**3), (ours, smi)

        registry = CollectorRegistry()
        registry.register(GpuCollector(sampler))
        labels = {"gpu_uuid": first.uuid}
        assert registry.get_sample_value("inferwatch_gpu_up", labels) == 1.0
        served_busy = registry.get_sample_value("inferwatch_gpu_busy_seconds_total", labels)
        assert served_busy is not None and served_busy >= last.busy_seconds_total
        print(
            f"\nGPU proof: {first.model} driver {first.driver_version}: mean utilization {mean_util:.2f}, "
            f"busy {busy:.2f} s over {elapsed:.2f} s, energy {energy:.0f} J vs mean power "
            f"{statistics.fmean(powers):.0f} W × {elapsed:.2f} s = {statistics.fmean(powers) * elapsed:.0f} J, "
            f"memory used {ours / 2**30:.2f} GiB vs nvidia-smi {smi / 2**30:.2f} GiB"
        )
    finally:
        if load.stdin is not None:
            load.stdin.close()
        load.wait(timeout=60)


def test_every_gpu_series_is_read_from_real_nvml(sampler: GpuSampler) -> None:
    """Each contract family has a sample on the H100; Xid events are watched; the MIG mode is read."""
    snap = sampler.snapshot()
    assert snap is not None and snap.backend == "nvml"
    gpu = snap.gpus[0]
    assert gpu.mig_mode in {"enabled", "disabled"}
    assert sampler.watching_events
    registry = CollectorRegistry()
    registry.register(GpuCollector(sampler))
    families = {m.name: m for m in registry.collect()}
    for name in CONTRACT_GPU_SERIES:
        if name == contract.GPU_SAMPLE_AGE.name:
            continue  # served by its own per-scrape collector, checked below
        family_name = contract.BY_NAME[name].family_name
        assert families[family_name].samples, f"{name} has no sample on real NVML"
    clocks = {s.labels["clock"]: s.value for s in families["inferwatch_gpu_clock_hertz"].samples}
    assert set(clocks) == {"graphics", "sm", "memory", "video"} and clocks["memory"] > 1e9
    limit = registry.get_sample_value("inferwatch_gpu_power_limit_watts", {"gpu_uuid": gpu.uuid})
    assert limit is not None and 100 <= limit <= 1000
    ages = CollectorRegistry()
    ages.register(GpuSampleAgeCollector(sampler))
    age = ages.get_sample_value(contract.GPU_SAMPLE_AGE.name, {"gpu_uuid": gpu.uuid})
    assert age is not None and 0 <= age < 5, age  # sampled every 0.5 s
    print(
        f"\nNVML errors on this GPU: {gpu.nvml_errors_total}; "
        f"PCIe tx {gpu.pcie_tx_bytes_total}; ECC {gpu.ecc_errors_total}"
    )


def _nvidia_smi_gpus() -> dict[str, float]:
    """Every GPU nvidia-smi lists: UUID -> memory total in bytes."""
    out = subprocess.run(
        ["nvidia-smi", "--query-gpu=uuid,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    rows = [line.split(",") for line in out.strip().splitlines()]
    return {uuid.strip(): float(mib) * 1024**2 for uuid, mib in rows}


def test_exporter_process_serves_every_real_gpu(tmp_path: Path) -> None:
    """`inferwatch exporter run --gpu-backend nvml` (the sidecar a pod runs) serves the contract for each GPU."""
    smi = _nvidia_smi_gpus()
    with exporter_process(tmp_path, ["--mode", "sidecar", "--gpu-backend", "nvml"]) as exp:
        samples = scrape(exp.url)
        missing = [name for name in CONTRACT_GPU_SERIES if name not in samples]
        assert not missing, missing
        up = {labels["gpu_uuid"]: value for labels, value in samples["inferwatch_gpu_up"]}
        assert up == dict.fromkeys(smi, 1.0)
        assert samples["inferwatch_exporter_info"][0][0]["gpu_backend"] == "nvml"
        total = {labels["gpu_uuid"]: value for labels, value in samples["inferwatch_gpu_memory_total_bytes"]}
        for uuid, smi_total in smi.items():
            assert total[uuid] == pytest.approx(smi_total, rel=0.01), (uuid, total[uuid], smi_total)
        assert "inferwatch_vllm_up" not in samples  # no vLLM configured: no vLLM series at all
    assert "SIMULATED" not in exp.log()
