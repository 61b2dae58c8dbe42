"""The GPU exporter's values: one tick's typed readings of a GPU and the immutable snapshot a scrape reads.

The sampler (`inferwatch.exporters.gpu.sampler`) writes them, the collectors
(`inferwatch.exporters.gpu.collector`) read them; both are plain frozen values, easy to build in
a test (and the OTLP push and pod attribution read the same snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferwatch.exporters.mig import MigSample


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
