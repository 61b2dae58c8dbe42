"""An llm-d-router-shaped metrics server: the endpoint picker's (EPP) own names, labels and buckets.

The router needs Kubernetes (an InferencePool, the Gateway API) and cannot run here, so the
end-to-end tests and the payload fixture (tests/data/engines/) use this stand-in. It registers
what `pkg/epp/metrics` registers, by generation (inferwatch.alerts.normalize.router has the
history): `g2` is llm-d-router v0.9.0 on (`llm_d_epp_*`), `g1` the Gateway API Inference
Extension v1.1 to v1.5 names (`inference_objective_*`, `inference_pool_*`,
`inference_extension_*`), `g0` its v1.0 request names (`inference_model_*`). llm-d-router
v0.9.0 and v0.10.0 emit g2 and g1 together, the default here. The router is a Go program: its
exposition spells integer `le` values "1", not "1.0", and has no `_created` samples.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

VERSION = "v0.10.0"
GENERATIONS = ("g2", "g1", "g0")
SHED = "ResourceExhausted"  # llm-d-router v0.9.0 on; the Inference Extension says InferencePoolResourceExhausted
DEFAULT_FLOW = "default-flow"  # the fairness id of a request without the x-llm-d-inference-fairness-id header
GENERAL_LATENCY = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60,
                   120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600)  # fmt: skip
INPUT_TOKENS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536, 131072, 262144, 524288,
                1048576)  # fmt: skip
OUTPUT_TOKENS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
SCHEDULER = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
_GO_LE = re.compile(r'le="(\d+)\.0"')


class _WithoutCreated(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class _Generation:
    """One generation's families of the request, pool and scheduler metrics."""

    def __init__(self, generation: str, registry: CollectorRegistry) -> None:
        self.generation = generation
        r = registry
        if generation == "g2":
            req, pool, ext = "llm_d_epp_request", "llm_d_epp", "llm_d_epp"
            labels = ["model_name", "target_model_name", "fairness_id", "priority"]
            total_labels, token_labels = labels, labels
            inputs, outputs, ready = (
                "llm_d_epp_request_input_tokens",
                "llm_d_epp_request_output_tokens",
                "ready_endpoints",
            )
        else:
            req = "inference_objective_request" if generation == "g1" else "inference_model_request"
            tokens = "inference_objective" if generation == "g1" else "inference_model"
            pool, ext = "inference_pool", "inference_extension"
            labels = ["model_name", "target_model_name"]
            total_labels = [*labels, "priority"] if generation == "g1" else labels
            token_labels = labels
            inputs, outputs, ready = f"{tokens}_input_tokens", f"{tokens}_output_tokens", "ready_pods"
        self.labels, self.total_labels, self.token_labels = labels, total_labels, token_labels
        self.total = Counter(f"{req}_total", "Counter of inference model requests broken out for each model and "
                             "target model.", total_labels, registry=r)  # fmt: skip
        self.errors = Counter(f"{req}_error_total", "Counter of inference model requests errors broken out for each "
                              "model and target model.", [*labels, "error_code"], registry=r)  # fmt: skip
        self.duration = Histogram(f"{req}_duration_seconds", "Inference model response latency distribution in "
                                  "seconds for each model and target model.", labels, registry=r,
                                  buckets=GENERAL_LATENCY)  # fmt: skip
        self.inputs = Histogram(inputs, "Inference model input token count distribution for requests in each model.",
                                token_labels, registry=r, buckets=INPUT_TOKENS)  # fmt: skip
        self.outputs = Histogram(outputs, "Inference model output token count distribution for requests in each "
                                 "model.", token_labels, registry=r, buckets=OUTPUT_TOKENS)  # fmt: skip
        self.kv = Gauge(f"{pool}_average_kv_cache_utilization", "The average kv cache utilization for an inference "
                        "server pool.", ["name"], registry=r)  # fmt: skip
        self.queue = Gauge(f"{pool}_average_queue_size", "The average number of requests pending in the model "
                           "server queue.", ["name"], registry=r)  # fmt: skip
        self.ready = Gauge(f"{pool}_{ready}", "The number of ready endpoints in the inference server pool.", ["name"],
                           registry=r)  # fmt: skip
        self.scheduler = Histogram(f"{ext}_scheduler_e2e_duration_seconds", "End-to-end scheduling latency "
                                   "distribution in seconds.", registry=r, buckets=SCHEDULER)  # fmt: skip
        self.flow_queue: Gauge | None = None
        if generation != "g0":  # flow control arrived with the Inference Extension v1.1
            self.flow_queue = Gauge(f"{ext}_flow_control_queue_size", "Current number of requests being actively "
                                    "managed by the EPP flow control layer.",
                                    ["fairness_id", "priority", "inference_pool", "model_name", "target_model_name"],
                                    registry=r)  # fmt: skip

    def values(self, labels: dict[str, str], names: list[str]) -> list[str]:
        return [labels[n] for n in names]


class RouterMetrics:
    """One router replica's metrics for one InferencePool, in the given generations, on loopback."""

    def __init__(self, pool: str, *, generations: tuple[str, ...] = ("g2", "g1"), shed_code: str = SHED) -> None:
        unknown = set(generations) - set(GENERATIONS)
        if unknown or not generations or {"g1", "g0"} <= set(generations):
            # g1 and g0 share the pool and scheduler names: no router emitted both.
            raise ValueError(f"generations are g2, g1, g0, g2 and g1, or g2 and g0; not {generations}")
        self.pool = pool
        self.shed_code = shed_code
        self._registry = CollectorRegistry()
        self.served = CollectorRegistry()
        self.served.register(_WithoutCreated(self._registry))
        self._gens = [_Generation(g, self._registry) for g in generations]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.set_pool(queue=0.0, kv_cache=0.0, ready=0)

    def observe_request(self, model: str, target: str, *, input_tokens: int, output_tokens: int, duration_s: float,
                        fairness_id: str = DEFAULT_FLOW, priority: str = "0",
                        scheduling_s: float = 0.0005) -> None:  # fmt: skip
        """One request scheduled, answered, and its usage parsed from the response."""
        labels = {"model_name": model, "target_model_name": target, "fairness_id": fairness_id, "priority": priority}
        with self._lock:
            for g in self._gens:
                g.scheduler.observe(scheduling_s)
                g.total.labels(*g.values(labels, g.total_labels)).inc()
                g.duration.labels(*g.values(labels, g.labels)).observe(duration_s)
                if input_tokens > 0:  # the router observes token counts only when usage has them
                    g.inputs.labels(*g.values(labels, g.token_labels)).observe(input_tokens)
                if output_tokens > 0:
                    g.outputs.labels(*g.values(labels, g.token_labels)).observe(output_tokens)

    def error(self, model: str, target: str, code: str, *, fairness_id: str = DEFAULT_FLOW,
              priority: str = "0") -> None:  # fmt: skip
        """One failed request (``code`` as the router spells it: `self.shed_code` for a shed one)."""
        labels = {"model_name": model, "target_model_name": target, "fairness_id": fairness_id, "priority": priority}
        with self._lock:
            for g in self._gens:
                g.errors.labels(*g.values(labels, g.labels), code).inc()

    def shed(self, model: str, target: str, *, fairness_id: str = DEFAULT_FLOW, priority: str = "0") -> None:
        """One request the router refused for saturation (HTTP 429)."""
        self.error(model, target, self.shed_code, fairness_id=fairness_id, priority=priority)

    def set_pool(self, *, queue: float, kv_cache: float, ready: int) -> None:
        """The pool's averages over its fresh endpoints and how many endpoints are ready."""
        with self._lock:
            for g in self._gens:
                g.queue.labels(self.pool).set(queue)
                g.kv.labels(self.pool).set(kv_cache)
                g.ready.labels(self.pool).set(ready)

    def set_flow_queue(self, size: int, model: str, target: str, *, fairness_id: str = DEFAULT_FLOW,
                       priority: str = "0") -> None:  # fmt: skip
        """Requests held in one flow-control queue (feature gate flowControl)."""
        with self._lock:
            for g in self._gens:
                if g.flow_queue is not None:
                    g.flow_queue.labels(fairness_id, priority, self.pool, model, target).set(size)

    def exposition(self) -> str:
        """What /metrics answers now, integer `le` values spelled the Go way."""
        return _GO_LE.sub(r'le="\1"', generate_latest(self.served).decode())

    @property
    def address(self) -> str:
        """host:port Prometheus scrapes, after `start`."""
        if self._server is None:
            raise RuntimeError("RouterMetrics.address before start()")
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> None:
        """Serve /metrics on 127.0.0.1 (``port`` 0 picks a free one)."""
        router = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = router.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="router-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (safe to call more than once, or before `start`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
