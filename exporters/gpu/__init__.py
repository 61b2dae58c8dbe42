"""GPU metrics from NVML: a background sampler that writes immutable snapshots, and a collector.

The path is sampler → snapshot → collector, one module each: `sampler` reads NVML on background
workers (fast reads every `interval_s`, slow reads every `slow_interval_s`, Xid/ECC events as they
come) into typed readings and publishes an immutable `GpuSnapshot` (`snapshot`); `collector`
turns the latest snapshot into metric families, so a scrape never calls NVML; `backend` picks
what the sampler reads (real NVML or simulated GPUs).
"""

from inferwatch.exporters.gpu.backend import open_backend
from inferwatch.exporters.gpu.collector import GpuCollector, GpuSampleAgeCollector, snapshot_families
from inferwatch.exporters.gpu.sampler import GpuSampler
from inferwatch.exporters.gpu.snapshot import FastReading, GpuSample, GpuSnapshot, SlowReading
from inferwatch.exporters.mig import MigSample

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
