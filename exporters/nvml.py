"""The NVML surface the GPU sampler uses, and how its errors are read.

The sampler is written once against `pynvml`'s function signatures. The real backend is the
`pynvml` module itself; the simulated one (`inferwatch.exporters.simulated`) implements the
same functions with the same return shapes and raises the same `pynvml.NVMLError` subclasses.
`NvmlApi` spells out that surface so both can be type-checked against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pynvml

from inferwatch.errors import ExitCode, InferwatchError

# Field values read on the slow cadence in ONE nvmlDeviceGetFieldValues call per GPU.
FIELD_ENERGY_MJ = pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION
FIELD_ECC_SBE_VOLATILE = pynvml.NVML_FI_DEV_ECC_SBE_VOL_TOTAL
FIELD_ECC_DBE_VOLATILE = pynvml.NVML_FI_DEV_ECC_DBE_VOL_TOTAL
FIELD_PCIE_TX_BYTES = pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES
FIELD_PCIE_RX_BYTES = pynvml.NVML_FI_DEV_PCIE_COUNT_RX_BYTES
FIELD_MEMORY_TEMP = pynvml.NVML_FI_DEV_MEMORY_TEMP
SLOW_FIELDS: tuple[int, ...] = (
    FIELD_ENERGY_MJ,
    FIELD_ECC_SBE_VOLATILE,
    FIELD_ECC_DBE_VOLATILE,
    FIELD_PCIE_TX_BYTES,
    FIELD_PCIE_RX_BYTES,
    FIELD_MEMORY_TEMP,
)

# Clock event ("throttle") reasons, by the label value the exporter publishes.
THROTTLE_REASONS: tuple[tuple[str, int], ...] = (
    ("gpu_idle", pynvml.nvmlClocksEventReasonGpuIdle),
    ("applications_clocks_setting", pynvml.nvmlClocksEventReasonApplicationsClocksSetting),
    ("sw_power_cap", pynvml.nvmlClocksEventReasonSwPowerCap),
    ("hw_slowdown", pynvml.nvmlClocksEventReasonHwSlowdown),
    ("sync_boost", pynvml.nvmlClocksEventReasonSyncBoost),
    ("sw_thermal_slowdown", pynvml.nvmlClocksEventReasonSwThermalSlowdown),
    ("hw_thermal_slowdown", pynvml.nvmlClocksEventReasonHwThermalSlowdown),
    ("hw_power_brake_slowdown", pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown),
    ("display_clock_setting", pynvml.nvmlClocksEventReasonDisplayClockSetting),
)

CLOCKS: tuple[tuple[str, int], ...] = (
    ("graphics", pynvml.NVML_CLOCK_GRAPHICS),
    ("sm", pynvml.NVML_CLOCK_SM),
    ("memory", pynvml.NVML_CLOCK_MEM),
    ("video", pynvml.NVML_CLOCK_VIDEO),
)

EVENT_XID = pynvml.nvmlEventTypeXidCriticalError
EVENT_ECC_SINGLE = pynvml.nvmlEventTypeSingleBitEccError
EVENT_ECC_DOUBLE = pynvml.nvmlEventTypeDoubleBitEccError
WATCHED_EVENTS = EVENT_XID | EVENT_ECC_SINGLE | EVENT_ECC_DOUBLE

# Errors after which a GPU's handle is not trusted: the GPU is reported down (inferwatch_gpu_up 0).
LOST_ERRORS = frozenset(
    {
        pynvml.NVML_ERROR_GPU_IS_LOST,
        pynvml.NVML_ERROR_RESET_REQUIRED,
        pynvml.NVML_ERROR_GPU_NOT_FOUND,
        pynvml.NVML_ERROR_UNKNOWN,
        pynvml.NVML_ERROR_UNINITIALIZED,
        pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    }
)
# Errors that mean "this read does not exist here" (e.g. utilization of a MIG-enabled parent):
# the series is left out and the read is not tried again, the GPU stays up.
UNSUPPORTED_ERRORS = frozenset({pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})

_ERROR_NAMES = {
    getattr(pynvml, name): name.removeprefix("NVML_ERROR_").lower()
    for name in dir(pynvml)
    if name.startswith("NVML_ERROR_") and isinstance(getattr(pynvml, name), int)
}


def error_name(err: pynvml.NVMLError) -> str:
    """A stable, label-friendly name of an NVML error (`gpu_is_lost`, `not_supported`, …)."""
    value = int(getattr(err, "value", -1))
    return _ERROR_NAMES.get(value, f"code_{value}")


def error_code(err: pynvml.NVMLError) -> int:
    """The numeric NVML return code an `NVMLError` carries."""
    return int(getattr(err, "value", -1))


def as_text(value: str | bytes) -> str:
    """pynvml returns str or bytes depending on the call and its version; always give str."""
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlUnavailableError(InferwatchError):
    """NVML cannot be loaded on this machine (no NVIDIA driver or no GPU)."""

    exit_code = ExitCode.USAGE

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"NVML is not available on this machine ({detail}): no NVIDIA driver or GPU was found. "
            "Run on a GPU node, or pass `--gpu-backend simulated` for a demo or CI (simulated GPUs)."
        )


@dataclass(frozen=True)
class FieldReading:
    """One field value read through nvmlDeviceGetFieldValues; `value` is None when NVML had none."""

    field_id: int
    value: float | None
    error: int


def read_fields(api: NvmlApi, handle: Any, field_ids: Sequence[int]) -> dict[int, FieldReading]:
    """Read several field values in one NVML call; a field NVML cannot answer gets value None."""
    raw = api.nvmlDeviceGetFieldValues(handle, list(field_ids))
    out: dict[int, FieldReading] = {}
    for fv in raw:
        fid = int(fv.fieldId)
        ret = int(fv.nvmlReturn)
        out[fid] = FieldReading(fid, _field_value(fv) if ret == pynvml.NVML_SUCCESS else None, ret)
    return out


def _field_value(fv: Any) -> float:
    kind = int(fv.valueType)
    if kind == pynvml.NVML_VALUE_TYPE_DOUBLE:
        return float(fv.value.dVal)
    if kind == pynvml.NVML_VALUE_TYPE_UNSIGNED_INT:
        return float(fv.value.uiVal)
    if kind == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG:
        return float(fv.value.ulVal)
    if kind == pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return float(fv.value.sllVal)
    if kind == pynvml.NVML_VALUE_TYPE_SIGNED_INT:
        return float(fv.value.siVal)
    return float(fv.value.ullVal)


class NvmlApi(Protocol):
    """The pynvml functions the sampler calls (the `pynvml` module and the simulator both provide them)."""

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlSystemGetDriverVersion(self) -> str | bytes: ...
    def nvmlDeviceGetCount(self) -> int: ...
    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any: ...
    def nvmlDeviceGetUUID(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetName(self, handle: Any) -> str | bytes: ...
    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any: ...
    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any: ...
    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int: ...
    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int: ...
    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int: ...
    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int: ...
    def nvmlDeviceGetClockInfo(self, handle: Any, clock_type: int) -> int: ...
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int: ...
    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: list[int]) -> Any: ...
    def nvmlDeviceGetMigMode(self, handle: Any) -> list[int]: ...
    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Any) -> int: ...
    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Any, index: int) -> Any: ...
    def nvmlDeviceGetGpuInstanceId(self, handle: Any) -> int: ...
    def nvmlDeviceGetComputeInstanceId(self, handle: Any) -> int: ...
    def nvmlDeviceGetAttributes(self, handle: Any) -> Any: ...
    def nvmlDeviceGetGpuInstanceProfileInfo(self, handle: Any, profile: int) -> Any: ...
    def nvmlDeviceGetSupportedEventTypes(self, handle: Any) -> int: ...
    def nvmlEventSetCreate(self) -> Any: ...
    def nvmlDeviceRegisterEvents(self, handle: Any, event_types: int, event_set: Any) -> None: ...
    def nvmlEventSetWait(self, event_set: Any, timeout_ms: int) -> Any: ...
    def nvmlEventSetFree(self, event_set: Any) -> None: ...
