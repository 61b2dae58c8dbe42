"""OTLP/HTTP push: a local receiver decodes the protobuf the SDK exporter sends; GenAI names and buckets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from inferwatch.exporters.gpu import GpuSample, GpuSnapshot
from inferwatch.exporters.otlp import OtlpPusher
from inferwatch.exporters.passthrough import translate_text
from inferwatch.exporters.vllm import VllmSnapshot, parse_exposition, translate_families

VLLM_TEXT = """\
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} 5.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 6.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 1.5
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 6.0
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{engine="0",le="0.05",model_name="m"} 9.0
vllm:time_per_output_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 10.0
vllm:time_per_output_token_seconds_sum{engine="0",model_name="m"} 0.4
vllm:time_per_output_token_seconds_count{engine="0",model_name="m"} 10.0
# TYPE vllm:request_prompt_tokens histogram
vllm:request_prompt_tokens_bucket{engine="0",le="10.0",model_name="m"} 1.0
vllm:request_prompt_tokens_bucket{engine="0",le="+Inf",model_name="m"} 6.0
vllm:request_prompt_tokens_sum{engine="0",model_name="m"} 300.0
vllm:request_prompt_tokens_count{engine="0",model_name="m"} 6.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 1.0
"""


class Receiver:
    """A local OTLP/HTTP metrics receiver that decodes every request it gets."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = ExportMetricsServiceRequest()
                req.ParseFromString(body)
                received.requests.append(req)
                received.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _metrics(req: ExportMetricsServiceRequest) -> dict[str, metrics_pb2.Metric]:
    return {m.name: m for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def _attrs(point: metrics_pb2.HistogramDataPoint | metrics_pb2.NumberDataPoint) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in point.attributes}


def _vllm_snapshot() -> VllmSnapshot:
    """A snapshot as the scraper makes it: the answer passed through by line (the full parse's families agree)."""
    engine = translate_text(VLLM_TEXT)
    assert engine is not None
    assert engine.families() == tuple(translate_families(parse_exposition(VLLM_TEXT)))
    return VllmSnapshot(0.0, True, 0.01, engine)


def test_push_uses_genai_names_and_keeps_buckets(receiver: Receiver) -> None:
    vllm = _vllm_snapshot()
    gpus = GpuSnapshot(
        0.0,
        "test",
        (GpuSample("GPU-a", 0, "H100", "0:1", "580", "disabled", True, utilization_ratio=0.5, memory_used_bytes=1e9),),
        (),
    )
    pusher = OtlpPusher(receiver.url, interval_s=60, vllm=lambda: vllm, gpus=lambda: gpus)
    try:
        assert pusher.push_once()
    finally:
        pusher.stop()
    assert receiver.paths == ["/v1/metrics"]
    req = receiver.requests[0]
    resource = {kv.key: kv.value.string_value for kv in req.resource_metrics[0].resource.attributes}
    assert resource["service.name"] == "inferwatch-exporter"
    metrics = _metrics(req)
    assert {
        "gen_ai.server.time_to_first_token",
        "gen_ai.server.time_per_output_token",
        "gen_ai.client.token.usage",
    } <= set(metrics)
    ttft = metrics["gen_ai.server.time_to_first_token"]
    assert ttft.unit == "s"
    assert ttft.histogram.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    (point,) = ttft.histogram.data_points
    assert list(point.explicit_bounds) == [0.1, 0.5]
    assert list(point.bucket_counts) == [2, 3, 1]
    assert point.count == 6 and point.sum == pytest.approx(1.5)
    assert not point.HasField("min")
    assert _attrs(point) == {"gen_ai.provider.name": "vllm", "gen_ai.request.model": "m", "vllm.engine": "0"}
    (tpot,) = metrics["gen_ai.server.time_per_output_token"].histogram.data_points
    assert tpot.count == 10 and list(tpot.bucket_counts) == [9, 1]
    (usage,) = metrics["gen_ai.client.token.usage"].histogram.data_points
    assert _attrs(usage)["gen_ai.token.type"] == "input" and usage.sum == 300
    (util,) = metrics["hw.gpu.utilization"].gauge.data_points
    assert util.as_double == 0.5 and _attrs(util)["hw.id"] == "GPU-a"
    assert "vllm:num_requests_running" not in metrics


def test_unreachable_receiver_is_reported_not_raised(receiver: Receiver) -> None:
    url = receiver.url
    receiver.close()
    vllm = _vllm_snapshot()
    pusher = OtlpPusher(url, interval_s=60, timeout_s=1, vllm=lambda: vllm, gpus=lambda: None)
    try:
        assert not pusher.push_once()
    finally:
        pusher.stop()
