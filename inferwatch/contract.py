"""The exporter's series contract: every `inferwatch_*` series `inferwatch exporter run` serves.

This module is the one place a series name of the exporter is spelled. The collectors build
their metric families from it (`inferwatch.exporters.families`), the normalization rules read
the names from it, the tests check a scrape against it, and the series table of the docs
(docs/exporter-series.md) is generated from it. Once a name lands here, changing it is a
breaking change that needs a migration note (docs/design.md, "The exporter's contract").

Conventions: prefix `inferwatch_`, base units (seconds, bytes, joules, watts, hertz, ratio 0–1),
counters end in `_total`; an *info* series is a gauge that is always 1 and carries identity labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

PREFIX = "inferwatch_"
COUNTER_SUFFIX = "_total"


class Kind(StrEnum):
    """How a series behaves (and which prometheus_client family type serves it)."""

    GAUGE = "gauge"
    COUNTER = "counter"
    INFO = "info"  # a gauge that is always 1 and carries identity labels


class Unit(StrEnum):
    """The base unit of a series' value; `NONE` for counts, flags and identities."""

    NONE = ""
    SECONDS = "seconds"
    BYTES = "bytes"
    JOULES = "joules"
    WATTS = "watts"
    CELSIUS = "celsius"
    HERTZ = "hertz"
    RATIO = "ratio"


class Source(StrEnum):
    """Which part of the exporter serves a series, and when (the docs group the table by it)."""

    GPU = "GPU (NVML), both modes"
    MIG = "MIG instance (NVML), both modes, one series per `mig_uuid`"
    ATTRIBUTION = "attribution: DaemonSet from the kubelet, sidecar from the downward API"
    PODRESOURCES = "DaemonSet: kubelet pod-resources"
    VLLM = "engine scrape: vLLM or SGLang (when `vllm_url` is set)"
    EXPORTER = "the exporter itself"


@dataclass(frozen=True)
class Series:
    """One served series: its name, kind, unit, label names (in order) and help text.

    `values` lists the closed set of values a label takes, where it has one (e.g. the scrape-error
    `reason`); a label without an entry takes open values (UUIDs, pod names, Xid codes).
    """

    name: str
    kind: Kind
    unit: Unit
    labels: tuple[str, ...]
    help: str
    source: Source
    values: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        """Hold every series to the naming conventions at import time."""
        if not self.name.startswith(PREFIX):
            raise ValueError(f"{self.name}: exporter series start with {PREFIX!r}")
        if (self.kind is Kind.COUNTER) != self.name.endswith(COUNTER_SUFFIX):
            raise ValueError(f"{self.name}: counters, and only counters, end in {COUNTER_SUFFIX!r}")
        if self.unit and not self.name.removesuffix(COUNTER_SUFFIX).endswith("_" + self.unit.value):
            raise ValueError(f"{self.name}: the name must end in its unit {self.unit.value!r}")
        unknown = set(self.values) - set(self.labels)
        if unknown:
            raise ValueError(f"{self.name}: values given for labels it does not have: {sorted(unknown)}")
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    @property
    def family_name(self) -> str:
        """The metric family's name as prometheus_client spells it (a counter's without `_total`)."""
        return self.name.removesuffix(COUNTER_SUFFIX) if self.kind is Kind.COUNTER else self.name


GPU_UUID = "gpu_uuid"
MIG_UUID = "mig_uuid"

# The sidecar also serves the serving engine's own families it scrapes (`vllm_url`), unchanged but
# for vLLM's renames: every family whose name starts with one of these. They are the engine's
# series, not the exporter's, so they have no entry below.
ENGINE_PREFIXES: tuple[str, ...] = ("vllm:", "sglang:")

VLLM_SCRAPE_ERROR_REASONS: tuple[str, ...] = (
    "empty",
    "timeout",
    "connection",
    "http_status",
    "too_large",
    "not_utf8",
    "unparseable",
)
VLLM_REPAIR_REASONS: tuple[str, ...] = ("duplicate_series", "repeated_family", "invalid_escape")
PCIE_DIRECTIONS: tuple[str, ...] = ("tx", "rx")
ECC_TYPES: tuple[str, ...] = ("correctable", "uncorrectable")
TEMPERATURE_SENSORS: tuple[str, ...] = ("gpu", "memory")
CLOCK_DOMAINS: tuple[str, ...] = ("graphics", "sm", "memory", "video")

# Where an allocation comes from. The kubelet's pod-resources answer (DaemonSet mode) is exact; a
# sidecar claims every GPU NVML shows it for its own pod, which is its pod's GPUs only when the
# container sees exactly those (DRA, or a configured UUID list), and every GPU of the node when it
# runs with NVIDIA_VISIBLE_DEVICES=all beside a device-plugin GPU request. The normalization rules
# therefore take the kubelet's answer for a GPU wherever there is one, a sidecar's claim only elsewhere.
ALLOCATION_SOURCE = "source"
ALLOCATION_FROM_KUBELET = "kubelet"
ALLOCATION_FROM_SIDECAR = "sidecar"
ALLOCATION_SOURCES: tuple[str, ...] = (ALLOCATION_FROM_KUBELET, ALLOCATION_FROM_SIDECAR)

# ----- GPUs ---------------------------------------------------------------------------------------
GPU_INFO = Series(
    "inferwatch_gpu_info",
    Kind.INFO,
    Unit.NONE,
    (GPU_UUID, "gpu_index", "gpu_model", "pci_bus_id", "driver_version", "mig_mode"),
    "GPU identity (=1)",
    Source.GPU,
    {"mig_mode": ("enabled", "disabled", "n/a")},
)
GPU_UP = Series(
    "inferwatch_gpu_up",
    Kind.GAUGE,
    Unit.NONE,
    (GPU_UUID,),
    "1 when NVML answers for the GPU, 0 when it reports the GPU lost or its memory cannot be read",
    Source.GPU,
)
GPU_UTILIZATION = Series(
    "inferwatch_gpu_utilization_ratio",
    Kind.GAUGE,
    Unit.RATIO,
    (GPU_UUID,),
    "GPU busy fraction (0-1) of NVML's last sample period",
    Source.GPU,
)
GPU_BUSY = Series(
    "inferwatch_gpu_busy_seconds_total",
    Kind.COUNTER,
    Unit.SECONDS,
    (GPU_UUID,),
    "utilization integrated over time at every tick (rate() over any window is exact)",
    Source.GPU,
)
GPU_MEMORY_USED = Series(
    "inferwatch_gpu_memory_used_bytes", Kind.GAUGE, Unit.BYTES, (GPU_UUID,), "framebuffer memory used", Source.GPU
)
GPU_MEMORY_TOTAL = Series(
    "inferwatch_gpu_memory_total_bytes", Kind.GAUGE, Unit.BYTES, (GPU_UUID,), "framebuffer memory size", Source.GPU
)
GPU_POWER = Series("inferwatch_gpu_power_watts", Kind.GAUGE, Unit.WATTS, (GPU_UUID,), "board power draw", Source.GPU)
GPU_POWER_LIMIT = Series(
    "inferwatch_gpu_power_limit_watts", Kind.GAUGE, Unit.WATTS, (GPU_UUID,), "enforced power limit", Source.GPU
)
GPU_ENERGY = Series(
    "inferwatch_gpu_energy_joules_total",
    Kind.COUNTER,
    Unit.JOULES,
    (GPU_UUID,),
    "energy since the driver loaded",
    Source.GPU,
)
GPU_TEMPERATURE = Series(
    "inferwatch_gpu_temperature_celsius",
    Kind.GAUGE,
    Unit.CELSIUS,
    (GPU_UUID, "sensor"),
    "temperature per sensor (memory where the GPU reports it)",
    Source.GPU,
    {"sensor": TEMPERATURE_SENSORS},
)
GPU_CLOCK = Series(
    "inferwatch_gpu_clock_hertz",
    Kind.GAUGE,
    Unit.HERTZ,
    (GPU_UUID, "clock"),
    "current clock per domain",
    Source.GPU,
    {"clock": CLOCK_DOMAINS},
)
GPU_THROTTLE = Series(
    "inferwatch_gpu_throttle_active",
    Kind.GAUGE,
    Unit.NONE,
    (GPU_UUID, "reason"),
    "1 while a clock event (throttle) reason holds",
    Source.GPU,
)
GPU_XID_ERRORS = Series(
    "inferwatch_gpu_xid_errors_total",
    Kind.COUNTER,
    Unit.NONE,
    (GPU_UUID, "xid"),
    "Xid critical errors seen (from an NVML event set); a code's series appears with its first event",
    Source.GPU,
)
GPU_ECC_ERRORS = Series(
    "inferwatch_gpu_ecc_errors_total",
    Kind.COUNTER,
    Unit.NONE,
    (GPU_UUID, "type"),
    "volatile ECC errors",
    Source.GPU,
    {"type": ECC_TYPES},
)
GPU_PCIE_BYTES = Series(
    "inferwatch_gpu_pcie_bytes_total",
    Kind.COUNTER,
    Unit.BYTES,
    (GPU_UUID, "direction"),
    "PCIe bytes moved",
    Source.GPU,
    {"direction": PCIE_DIRECTIONS},
)
GPU_NVML_ERRORS = Series(
    "inferwatch_gpu_nvml_errors_total",
    Kind.COUNTER,
    Unit.NONE,
    (GPU_UUID, "error"),
    "NVML calls that failed, by error (a read NVML does not support is left out, counted once)",
    Source.GPU,
)
GPU_SAMPLE_AGE = Series(
    "inferwatch_gpu_sample_age_seconds",
    Kind.GAUGE,
    Unit.SECONDS,
    (GPU_UUID,),
    "seconds since the GPU's values were last read from NVML, taken at scrape time: it grows while NVML "
    "calls stall or the GPU is down, so stale values are visible (about the sample interval when healthy)",
    Source.GPU,
)

# ----- MIG instances ------------------------------------------------------------------------------
MIG_INFO = Series(
    "inferwatch_gpu_mig_info",
    Kind.INFO,
    Unit.NONE,
    (MIG_UUID, GPU_UUID, "gpu_instance_id", "compute_instance_id", "profile"),
    "MIG instance identity (=1), with its parent GPU",
    Source.MIG,
)
MIG_SLICE_RATIO = Series(
    "inferwatch_gpu_mig_slice_ratio",
    Kind.GAUGE,
    Unit.RATIO,
    (MIG_UUID, GPU_UUID),
    "MIG instance's share of its GPU (slices/max)",
    Source.MIG,
)
MIG_MEMORY_USED = Series(
    "inferwatch_gpu_mig_memory_used_bytes",
    Kind.GAUGE,
    Unit.BYTES,
    (MIG_UUID, GPU_UUID),
    "MIG instance memory used",
    Source.MIG,
)
MIG_MEMORY_TOTAL = Series(
    "inferwatch_gpu_mig_memory_total_bytes",
    Kind.GAUGE,
    Unit.BYTES,
    (MIG_UUID, GPU_UUID),
    "MIG instance memory size",
    Source.MIG,
)

# ----- attribution and the kubelet -----------------------------------------------------------------
GPU_ALLOCATION = Series(
    "inferwatch_gpu_allocation_ratio",
    Kind.GAUGE,
    Unit.RATIO,
    (GPU_UUID, "namespace", "pod", "container", ALLOCATION_SOURCE),
    "share of the GPU a container holds: 1 exclusive, 1/N time-sliced, slices/max for MIG; source says who "
    "attributed it: kubelet (the DaemonSet's pod-resources answer, exact) or sidecar (every GPU the sidecar "
    "sees, for its own pod), and a GPU's kubelet attribution overrides any sidecar's "
    "(the scrape must honour these labels: honor_labels: true)",
    Source.ATTRIBUTION,
    {ALLOCATION_SOURCE: ALLOCATION_SOURCES},
)
PODRESOURCES_UP = Series(
    "inferwatch_podresources_up",
    Kind.GAUGE,
    Unit.NONE,
    (),
    "1 when the last read of the kubelet pod-resources API succeeded (the last assignments are kept meanwhile)",
    Source.PODRESOURCES,
)
PODRESOURCES_GPU_INFO = Series(
    "inferwatch_podresources_gpu_info",
    Kind.INFO,
    Unit.NONE,
    (GPU_UUID,),
    "a GPU the kubelet allocates through the device plugin (=1), held or not: its allocations are the kubelet's "
    "answer, so sidecar claims on it are ignored (GPUs allocated through DRA are not listed)",
    Source.PODRESOURCES,
)

# ----- vLLM ---------------------------------------------------------------------------------------
VLLM_UP = Series(
    "inferwatch_vllm_up",
    Kind.GAUGE,
    Unit.NONE,
    (),
    "1 when the last scrape of the engine's /metrics (vLLM or SGLang) succeeded",
    Source.VLLM,
)
VLLM_SCRAPE_DURATION = Series(
    "inferwatch_vllm_scrape_duration_seconds",
    Kind.GAUGE,
    Unit.SECONDS,
    (),
    "duration of the last scrape of the engine's /metrics",
    Source.VLLM,
)
VLLM_SCRAPE_ERRORS = Series(
    "inferwatch_vllm_scrape_errors_total",
    Kind.COUNTER,
    Unit.NONE,
    ("reason",),
    "failed scrapes of the engine's /metrics by reason",
    Source.VLLM,
    {"reason": VLLM_SCRAPE_ERROR_REASONS},
)
VLLM_SCRAPE_REPAIRS = Series(
    "inferwatch_vllm_scrape_repairs_total",
    Kind.COUNTER,
    Unit.NONE,
    ("reason",),
    "problems found in good engine answers and repaired, by reason: a series served twice (the first value "
    "is kept), a family block repeated (merged into the first), an escape the text format does not define "
    "(kept verbatim, as Prometheus reads it)",
    Source.VLLM,
    {"reason": VLLM_REPAIR_REASONS},
)

# ----- the exporter -------------------------------------------------------------------------------
EXPORTER_INFO = Series(
    "inferwatch_exporter_info",
    Kind.INFO,
    Unit.NONE,
    ("version", "gpu_backend"),
    "exporter build and GPU backend (=1); gpu_backend is simulated when no real NVML is read",
    Source.EXPORTER,
    {"gpu_backend": ("nvml", "simulated")},
)

SERIES: tuple[Series, ...] = (
    GPU_INFO,
    GPU_UP,
    GPU_UTILIZATION,
    GPU_BUSY,
    GPU_MEMORY_USED,
    GPU_MEMORY_TOTAL,
    GPU_POWER,
    GPU_POWER_LIMIT,
    GPU_ENERGY,
    GPU_TEMPERATURE,
    GPU_CLOCK,
    GPU_THROTTLE,
    GPU_XID_ERRORS,
    GPU_ECC_ERRORS,
    GPU_PCIE_BYTES,
    GPU_NVML_ERRORS,
    GPU_SAMPLE_AGE,
    MIG_INFO,
    MIG_SLICE_RATIO,
    MIG_MEMORY_USED,
    MIG_MEMORY_TOTAL,
    GPU_ALLOCATION,
    PODRESOURCES_UP,
    PODRESOURCES_GPU_INFO,
    VLLM_UP,
    VLLM_SCRAPE_DURATION,
    VLLM_SCRAPE_ERRORS,
    VLLM_SCRAPE_REPAIRS,
    EXPORTER_INFO,
)
"""Every series of the contract, in the order the docs list them."""

BY_NAME: Mapping[str, Series] = MappingProxyType({s.name: s for s in SERIES})
if len(BY_NAME) != len(SERIES):  # pragma: no cover - a duplicate is a programming error caught at import
    raise ValueError("a series is named twice in the contract")
