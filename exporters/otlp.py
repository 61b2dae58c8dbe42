"""Optional OTLP/HTTP push of the exporter's snapshots, named by the OpenTelemetry GenAI conventions.

The vLLM histograms are already aggregated (cumulative buckets), so they are not re-recorded
through instruments: `snapshot_metrics` converts the latest snapshots into the SDK's
`MetricsData` (cumulative temporality, the scraped bucket boundaries kept) and `OtlpPusher`
hands it to the SDK's OTLP/HTTP exporter on its own cadence. Names follow the GenAI semantic
conventions where one exists (`gen_ai.server.time_to_first_token`,
`gen_ai.server.time_per_output_token`, `gen_ai.server.request.duration`,
`gen_ai.client.token.usage` with `gen_ai.token.type`), with `gen_ai.request.model` from
`model_name`; GPUs use the hardware conventions' `hw.gpu.utilization` / `hw.gpu.memory.usage`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.core import Metric as PromMetric

from inferwatch import __version__
from inferwatch.exporters.gpu import GpuSnapshot
from inferwatch.exporters.vllm import VllmSnapshot
from inferwatch.exporters.worker import PeriodicWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenAiHistogram:
    """How one vLLM histogram family maps to a GenAI convention histogram."""

    name: str
    unit: str
    description: str
    extra_attributes: tuple[tuple[str, str], ...] = ()


_TOKEN_USAGE_HELP = "Number of input and output tokens used"

# vLLM family (current name) -> GenAI semantic-convention histogram.
GENAI_HISTOGRAMS: dict[str, GenAiHistogram] = {
    "vllm:time_to_first_token_seconds": GenAiHistogram(
        "gen_ai.server.time_to_first_token", "s", "Time to generate first token for successful responses"
    ),
    "vllm:inter_token_latency_seconds": GenAiHistogram(
        "gen_ai.server.time_per_output_token", "s", "Time per output token generated after the first token"
    ),
    "vllm:e2e_request_latency_seconds": GenAiHistogram(
        "gen_ai.server.request.duration", "s", "Generative AI server request duration"
    ),
    "vllm:request_prompt_tokens": GenAiHistogram(
        "gen_ai.client.token.usage", "{token}", _TOKEN_USAGE_HELP, (("gen_ai.token.type", "input"),)
    ),
    "vllm:request_generation_tokens": GenAiHistogram(
        "gen_ai.client.token.usage", "{token}", _TOKEN_USAGE_HELP, (("gen_ai.token.type", "output"),)
    ),
}

_LABEL_ATTRIBUTES = {"model_name": "gen_ai.request.model", "engine": "vllm.engine"}


def _attributes(labels: Mapping[str, str], extra: tuple[tuple[str, str], ...]) -> dict[str, str]:
    attrs = {"gen_ai.provider.name": "vllm", **dict(extra)}
    for key, value in labels.items():
        if key != "le":
            attrs[_LABEL_ATTRIBUTES.get(key, f"vllm.{key}")] = value
    return attrs


def _histogram_points(family: PromMetric, spec: GenAiHistogram, start_ns: int, now_ns: int) -> list[HistogramDataPoint]:
    """Prometheus cumulative `le` buckets of each series -> OTLP per-bucket counts."""
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = defaultdict(lambda: {"buckets": []})
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        if s.name.endswith("_bucket"):
            series[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_sum"):
            series[key]["sum"] = s.value
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    points = []
    for key, data in series.items():
        buckets = sorted(data["buckets"])
        bounds = [le for le, _ in buckets if not math.isinf(le)]
        cumulative = [c for le, c in buckets if not math.isinf(le)]
        count = int(data.get("count", buckets[-1][1] if buckets else 0))
        per_bucket = [int(c - p) for c, p in zip([*cumulative, count], [0.0, *cumulative], strict=True)]
        points.append(
            HistogramDataPoint(
                attributes=_attributes(dict(key), spec.extra_attributes),
                start_time_unix_nano=start_ns,
                time_unix_nano=now_ns,
                count=count,
                sum=float(data.get("sum", 0.0)),
                bucket_counts=per_bucket,
                explicit_bounds=bounds,
                # min/max are unknown from Prometheus buckets: None leaves the optional OTLP fields unset.
                min=None,  # type: ignore[arg-type]
                max=None,  # type: ignore[arg-type]
            )
        )
    return points


def snapshot_metrics(
    vllm: VllmSnapshot | None, gpus: GpuSnapshot | None, *, start_ns: int, now_ns: int
) -> list[Metric]:
    """OTel metrics for the latest snapshots (a pure function of them)."""
    points: dict[str, list[HistogramDataPoint]] = defaultdict(list)
    specs: dict[str, GenAiHistogram] = {}
    if vllm is not None and vllm.up:
        for family in vllm.engine.families():
            spec = GENAI_HISTOGRAMS.get(family.name)
            if spec is not None and family.type == "histogram":
                points[spec.name].extend(_histogram_points(family, spec, start_ns, now_ns))
                specs[spec.name] = spec
    out = [
        Metric(name, specs[name].description, specs[name].unit, Histogram(pts, AggregationTemporality.CUMULATIVE))
        for name, pts in points.items()
    ]
    if gpus is not None:
        util = [
            NumberDataPoint({"hw.id": g.uuid, "hw.type": "gpu"}, start_ns, now_ns, g.utilization_ratio)
            for g in gpus.gpus
            if g.utilization_ratio is not None
        ]
        mem = [
            NumberDataPoint({"hw.id": g.uuid, "hw.type": "gpu"}, start_ns, now_ns, int(g.memory_used_bytes))
            for g in gpus.gpus
            if g.memory_used_bytes is not None
        ]
        busy = [
            NumberDataPoint({"hw.id": g.uuid}, start_ns, now_ns, g.busy_seconds_total)
            for g in gpus.gpus
            if g.busy_seconds_total is not None
        ]
        if util:
            out.append(Metric("hw.gpu.utilization", "GPU utilization", "1", Gauge(util)))
        if mem:
            out.append(Metric("hw.gpu.memory.usage", "GPU memory used", "By", Gauge(mem)))
        if busy:
            busy_sum = Sum(busy, AggregationTemporality.CUMULATIVE, is_monotonic=True)
            out.append(Metric("inferwatch.gpu.busy_time", "utilization integrated over time", "s", busy_sum))
    return out


class OtlpPusher:
    """Pushes `snapshot_metrics` of the latest snapshots to an OTLP/HTTP endpoint every `interval_s`."""

    def __init__(
        self,
        endpoint: str,
        *,
        interval_s: float,
        vllm: Callable[[], VllmSnapshot | None],
        gpus: Callable[[], GpuSnapshot | None],
        timeout_s: float = 10.0,
        service_name: str = "inferwatch-exporter",
        exporter: MetricExporter | None = None,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """`endpoint` is the full metrics URL (e.g. http://collector:4318/v1/metrics); `timeout_s` bounds a push."""
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.endpoint = endpoint
        self._interval = interval_s
        self._vllm = vllm
        self._gpus = gpus
        self._exporter = exporter or OTLPMetricExporter(endpoint=endpoint, timeout=min(timeout_s, interval_s))
        self._resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self._scope = InstrumentationScope("inferwatch.exporters", __version__)
        self._clock_ns = wall_clock_ns
        self._start_ns = wall_clock_ns()
        self._last_ok: bool | None = None
        self._worker = PeriodicWorker(
            "inferwatch-otlp", self.push_once, interval_s=interval_s, join_timeout_s=interval_s + 15
        )

    def push_once(self) -> bool:
        """Export the current snapshots once; True when the receiver accepted them."""
        metrics = snapshot_metrics(self._vllm(), self._gpus(), start_ns=self._start_ns, now_ns=self._clock_ns())
        if not metrics:
            return True
        data = MetricsData([ResourceMetrics(self._resource, [ScopeMetrics(self._scope, metrics, "")], "")])
        ok = self._exporter.export(data) == MetricExportResult.SUCCESS
        if ok != self._last_ok:
            log.log(logging.INFO if ok else logging.WARNING, "OTLP push endpoint=%s ok=%s", self.endpoint, ok)
        self._last_ok = ok
        return ok

    def start(self) -> None:
        """Push on a background worker every `interval_s`."""
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker and shut the exporter down."""
        self._worker.stop()
        self._exporter.shutdown()
