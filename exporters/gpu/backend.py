"""The NVML backend the sampler reads: the real driver through pynvml, or simulated GPUs (demo, CI)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

import pynvml

from inferwatch.exporters.nvml import NvmlApi, NvmlUnavailableError
from inferwatch.exporters.simulated import MEASURED_H100_LATENCIES_S, SimulatedNvml

log = logging.getLogger(__name__)


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
