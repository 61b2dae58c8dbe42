"""The GPU collectors: the GPU series of the latest snapshot, and how old each GPU's values are.

`GpuCollector.collect()` only reads the sampler's latest snapshot, so a scrape never calls NVML;
`snapshot_families` is a pure function of a snapshot (rendered once per snapshot by the server).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from inferwatch import __version__
from inferwatch import contract as c
from inferwatch.exporters.families import add, family
from inferwatch.exporters.gpu.sampler import GpuSampler
from inferwatch.exporters.gpu.snapshot import GpuSnapshot


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
