"""The inferwatch exporter: NVML GPUs, the vLLM endpoint and kubelet pod attribution, served from memory.

Each source is a background sampler writing an immutable snapshot plus a prometheus_client
collector reading it; `inferwatch.exporters.cli.build_app` assembles them into the FastAPI app
of `inferwatch exporter run`. The names below load their module on first use: a sidecar never
reads the kubelet, so it never loads gRPC (about 20 MB of a process's memory).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferwatch.exporters.attribution import Allocation, AttributionCollector, allocation_ratios
    from inferwatch.exporters.gpu import GpuCollector, GpuSampleAgeCollector, GpuSampler, GpuSnapshot, open_backend
    from inferwatch.exporters.mig import MigSample
    from inferwatch.exporters.podresources import PodResourcesClient, PodResourcesWatcher
    from inferwatch.exporters.vllm import VllmCollector, VllmScraper, VllmSnapshot, translate_families
    from inferwatch.exporters.worker import PeriodicWorker

_MODULE_OF = {
    "Allocation": "attribution",
    "AttributionCollector": "attribution",
    "allocation_ratios": "attribution",
    "GpuCollector": "gpu",
    "GpuSampleAgeCollector": "gpu",
    "MigSample": "mig",
    "PeriodicWorker": "worker",
    "GpuSampler": "gpu",
    "GpuSnapshot": "gpu",
    "open_backend": "gpu",
    "PodResourcesClient": "podresources",
    "PodResourcesWatcher": "podresources",
    "VllmCollector": "vllm",
    "VllmScraper": "vllm",
    "VllmSnapshot": "vllm",
    "translate_families": "vllm",
}

__all__ = [
    "Allocation",
    "AttributionCollector",
    "GpuCollector",
    "GpuSampleAgeCollector",
    "GpuSampler",
    "GpuSnapshot",
    "MigSample",
    "PeriodicWorker",
    "PodResourcesClient",
    "PodResourcesWatcher",
    "VllmCollector",
    "VllmScraper",
    "VllmSnapshot",
    "allocation_ratios",
    "open_backend",
    "translate_families",
]


def __getattr__(name: str) -> Any:
    """Load the module that defines `name` on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
