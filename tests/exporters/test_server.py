"""The Starlette app: /metrics formats, /healthz, /readyz gating, and the sources' lifespan."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.testclient import TestClient

from inferwatch.exporters.server import CachedPart, Source, create_app, wants_openmetrics
from inferwatch.localstack.processes import wait_for


class FakeSource:
    """A component that records its lifecycle and becomes ready when told."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events
        self.is_ready = False

    def start(self) -> None:
        self.events.append(f"start {self.name}")

    def stop(self) -> None:
        self.events.append(f"stop {self.name}")


class VllmLike(Collector):
    """A collector with a colon name, as the vLLM pass-through yields."""

    def collect(self) -> Iterator[Metric]:
        g = GaugeMetricFamily("vllm:num_requests_running", "running", labels=["model_name"])
        g.add_metric(["m"], 3)
        yield g


def _app(events: list[str]) -> tuple[TestClient, FakeSource, FakeSource]:
    registry = CollectorRegistry()
    registry.register(VllmLike())
    gpu, vllm = FakeSource("gpu", events), FakeSource("vllm", events)
    sources = [Source("gpu", gpu, lambda: gpu.is_ready), Source("vllm", vllm, lambda: vllm.is_ready)]
    return TestClient(create_app(registry, sources)), gpu, vllm


def test_readyz_waits_for_every_source_and_lifespan_orders_start_stop() -> None:
    events: list[str] = []
    client, gpu, vllm = _app(events)
    with client:
        assert events == ["start gpu", "start vllm"]
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503 and "gpu, vllm" in r.text
        gpu.is_ready = True
        r = client.get("/readyz")
        assert r.status_code == 503 and r.text.strip() == "waiting for: vllm"
        vllm.is_ready = True
        assert client.get("/readyz").status_code == 200
    assert events[2:] == ["stop vllm", "stop gpu"]


def test_metrics_text_by_default_openmetrics_when_asked() -> None:
    client, _, _ = _app([])
    with client:
        text = client.get("/metrics")
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'vllm:num_requests_running{model_name="m"} 3.0' in text.text
        om = client.get("/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        # The colon survives (prometheus_client's default escaping would write vllm_num_requests_running).
        assert 'vllm:num_requests_running{model_name="m"} 3.0' in om.text
        assert om.text.endswith("# EOF\n")


def test_wants_openmetrics() -> None:
    assert wants_openmetrics("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert not wants_openmetrics("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    assert not wants_openmetrics(None)


class CountingSnapshotCollector(Collector):
    """Yields the current snapshot's value and counts how often it was rendered."""

    def __init__(self) -> None:
        self.snapshot: object = object()
        self.value = 1.0
        self.collects = 0

    def collect(self) -> Iterator[Metric]:
        self.collects += 1
        yield GaugeMetricFamily("vllm:kv_cache_usage_perc", "kv", value=self.value)


def test_cached_part_renders_once_per_snapshot_in_the_background_and_joins_with_the_rest() -> None:
    big = CountingSnapshotCollector()
    part_registry = CollectorRegistry()
    part_registry.register(big)
    part = CachedPart("vllm", part_registry, lambda: big.snapshot)
    registry = CollectorRegistry()
    registry.register(VllmLike())
    with TestClient(create_app(registry, [], cached=[part])) as client:
        for _ in range(5):
            r = client.get("/metrics")
            assert "vllm:kv_cache_usage_perc 1.0" in r.text and "vllm:num_requests_running" in r.text
        assert big.collects == 1
        big.value, big.snapshot = 0.5, object()  # a new snapshot: the renderer picks it up
        wait_for(lambda: "vllm:kv_cache_usage_perc 0.5" in client.get("/metrics").text, "the new snapshot's render")
        assert big.collects == 2
        om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}).text
        assert om.count("# EOF") == 1 and om.endswith("# EOF\n")
        assert "vllm:kv_cache_usage_perc 0.5" in om and 'vllm:num_requests_running{model_name="m"} 3.0' in om
        assert big.collects == 3  # OpenMetrics is rendered on its first request ...
        big.value, big.snapshot = 0.25, object()

        # ... and from then on by the renderer too, once per snapshot.
        # `collects` counts when a render starts; the render is served once it is cached.
        def rendered() -> bool:
            return big.collects == 5 and b"vllm:kv_cache_usage_perc 0.25" in (part.latest(True) or b"")

        wait_for(rendered, "both formats rendered in the background")
        om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}).text
        assert "vllm:kv_cache_usage_perc 0.25" in om and big.collects == 5


def test_a_scrape_takes_the_last_render_while_the_renderer_catches_up_and_renders_once_it_lags() -> None:
    big = CountingSnapshotCollector()
    part_registry = CollectorRegistry()
    part_registry.register(big)
    now = [100.0]
    part = CachedPart("vllm", part_registry, lambda: big.snapshot, max_lag_s=1.0, clock=lambda: now[0])
    assert part.latest(False) is None  # never rendered: the scrape must render
    assert b"1.0" in part.render(False)
    big.value, big.snapshot = 0.5, object()
    assert b"1.0" in (part.latest(False) or b""), "a new snapshot: the previous render until the renderer runs"
    now[0] += 0.9
    assert b"1.0" in (part.latest(False) or b""), "within max_lag_s the previous render is served"
    assert big.collects == 1
    now[0] += 0.2
    assert part.latest(False) is None, "a renderer 1.1 s behind: the scrape renders itself"
    assert b"0.5" in part.render(False) and big.collects == 2
    assert b"0.5" in (part.latest(False) or b"")
