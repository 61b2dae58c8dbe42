"""The inferwatch exporter: NVML GPUs, the vLLM endpoint and kubelet pod attribution, served from memory.

Each source is a background sampler writing an immutable snapshot plus a prometheus_client
collector reading it; `inferwatch.exporters.cli.build_app` assembles them into the FastAPI app
of `inferwatch exporter run` (the server and OTLP modules are imported there, not here, so that
importing a collector stays light).
"""

from inferwatch.exporters.attribution import Allocation, AttributionCollector, allocation_ratios
from inferwatch.exporters.gpu import GpuCollector, GpuSampler, GpuSnapshot, open_backend
from inferwatch.exporters.podresources import PodResourcesClient, PodResourcesWatcher
from inferwatch.exporters.vllm import VllmCollector, VllmScraper, VllmSnapshot, translate_families

__all__ = [
    "Allocation",
    "AttributionCollector",
    "GpuCollector",
    "GpuSampler",
    "GpuSnapshot",
    "PodResourcesClient",
    "PodResourcesWatcher",
    "VllmCollector",
    "VllmScraper",
    "VllmSnapshot",
    "allocation_ratios",
    "open_backend",
    "translate_families",
]
