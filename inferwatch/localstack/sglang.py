"""An SGLang-shaped metrics server: SGLang 0.5.23's own names, labels and buckets, driven by the caller.

SGLang cannot run here (it needs a GPU and CUDA), so the end-to-end tests, the payload fixture
(tests/data/engines/) and the sidecar's tests use this stand-in. It registers the families
inferwatch reads, and a few it does not, exactly as python/sglang/srt/observability/
metrics_collector.py registers them: the tokenizer's (`model_name`, `engine_type`, plus
`is_streaming` on most) and the scheduler's (`model_name`, `engine_type`, `tp_rank`, `pp_rank`,
`moe_ep_rank`, plus `dp_rank` with data parallelism), with SGLang's default buckets. Like
SGLang's multiprocess registry it serves no `_created` samples. What the caller reports (a
finished request, an abort, the scheduler's load, a retraction, an HTTP response) moves the
series the way SGLang's tokenizer manager and scheduler move them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from inferwatch.config.buckets import SGLANG_DEFAULT_BUCKETS

VERSION = "0.5.23"
# Defaults of metrics_collector.py other than the SLO kinds' (inferwatch.config.buckets).
ITL_BUCKETS = SGLANG_DEFAULT_BUCKETS["tpot"]  # TPOT and inter-token latency share --bucket-inter-token-latency
QUEUE_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80,
                 90, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1200, 1400, 1600, 1800, 2000, 2500,
                 3000)  # fmt: skip
STAGE_BUCKETS = tuple(0.001 * 1.62**i for i in range(30))  # exponential_buckets(0.001, 1.62, 30)


class _WithoutCreated(Collector):
    """The registry's families without `_created` samples (SGLang's multiprocess registry has none)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class SglangMetrics:
    """One SGLang server's metrics (``dp_size`` data-parallel ranks, one scheduler view each), on loopback."""

    def __init__(self, model_name: str, *, dp_size: int = 1, ttft_buckets: tuple[float, ...] | None = None) -> None:
        """``ttft_buckets`` stands for `--bucket-time-to-first-token` (default: SGLang's)."""
        self.model_name = model_name
        self._registry = CollectorRegistry()
        self.served = CollectorRegistry()
        self.served.register(_WithoutCreated(self._registry))
        tok = ["model_name", "engine_type"]
        sched = ["model_name", "engine_type", "tp_rank", "pp_rank", "moe_ep_rank"] + (
            ["dp_rank"] if dp_size > 1 else []
        )
        self._tok_values = [model_name, "unified"]
        self._ranks = [
            [model_name, "unified", "0", "0", "0"] + ([str(r)] if dp_size > 1 else []) for r in range(dp_size)
        ]
        r = self._registry
        stream = [*tok, "is_streaming"]
        ttft = ttft_buckets or SGLANG_DEFAULT_BUCKETS["ttft"]
        self._ttft = Histogram("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                               stream, registry=r, buckets=ttft)  # fmt: skip
        self._itl = Histogram("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                              tok, registry=r, buckets=ITL_BUCKETS)  # fmt: skip
        self._tpot = Histogram(
            "sglang:request_time_per_output_token_seconds",
            "Per-request TPOT in seconds: (finished_time - first_token_time) / (completion_tokens - 1).",
            stream, registry=r, buckets=ITL_BUCKETS,
        )  # fmt: skip
        self._e2e = Histogram("sglang:e2e_request_latency_seconds",
                              "Histogram of End-to-end request latency in seconds", stream, registry=r,
                              buckets=SGLANG_DEFAULT_BUCKETS["e2e"])  # fmt: skip
        self._prompt = Counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.", stream, registry=r)
        self._generation = Counter("sglang:generation_tokens_total", "Number of generation tokens processed.", stream,
                                   registry=r)  # fmt: skip
        self._cached = Counter("sglang:cached_tokens_total",
                               "Number of cached prompt tokens by source (device/host/storage).",
                               [*tok, "cache_source"], registry=r)  # fmt: skip
        self._requests = Counter("sglang:num_requests_total", "Number of requests processed.", stream, registry=r)
        self._aborted = Counter("sglang:num_aborted_requests_total", "Number of requests aborted.", tok, registry=r)
        self._running = Gauge("sglang:num_running_reqs", "The number of running requests.", sched, registry=r)
        self._queued = Gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.", sched, registry=r)
        self._usage = Gauge("sglang:token_usage", "The token usage.", sched, registry=r)
        self._hit_rate = Gauge("sglang:cache_hit_rate", "The prefix cache hit rate.", sched, registry=r)
        self._max_tokens = Gauge("sglang:max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.",
                                 sched, registry=r)  # fmt: skip
        self._queue_time = Histogram("sglang:queue_time_seconds", "Histogram of queueing time in seconds.", sched,
                                     registry=r, buckets=QUEUE_BUCKETS)  # fmt: skip
        self._stage = Histogram("sglang:per_stage_req_latency_seconds", "The latency of each stage of requests.",
                                [*sched, "stage"], registry=r, buckets=STAGE_BUCKETS)  # fmt: skip
        self._retracted = Counter("sglang:num_retracted_requests_total", "Total number of retracted requests.", sched,
                                  registry=r)  # fmt: skip
        self._effective = Counter(
            "sglang:prefill_effective_tokens_total",
            "Effective prefill tokens with retracted-request re-counts excluded, updated on each log interval. "
            "mode: device_hit, host_hit, storage_hit, input. Windowed prefix cache hit rate = rate(sum of *_hit) / "
            "rate(sum of all modes); per-tier rate uses a single *_hit mode in the numerator.",
            [*sched, "mode"], registry=r,
        )  # fmt: skip
        self._http_requests = Counter("sglang:http_requests_total",
                                      "Total number of HTTP requests by endpoint and method", ["endpoint", "method"],
                                      registry=r)  # fmt: skip
        self._http_responses = Counter("sglang:http_responses_total",
                                       "Total number of HTTP responses by endpoint and status code",
                                       ["endpoint", "status_code", "method"], registry=r)  # fmt: skip
        for i, rank in enumerate(self._ranks):  # what each scheduler sets at start
            for mode in ("device_hit", "host_hit", "storage_hit", "input"):
                self._effective.labels(*rank, mode).inc(0)
            self._retracted.labels(*rank).inc(0)
            self._max_tokens.labels(*rank).set(262144)
            self.set_load(running=0, queued=0, token_usage=0.0, dp_rank=i)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def observe_request(self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int, ttft_s: float,
                        e2e_s: float, queue_s: float, streaming: bool = True, dp_rank: int = 0) -> None:  # fmt: skip
        """One finished request, as the tokenizer manager and the scheduler record it."""
        s = "true" if streaming else "false"
        tok = [*self._tok_values, s]
        rank = self._ranks[dp_rank]
        with self._lock:
            self._ttft.labels(*tok).observe(ttft_s)
            if completion_tokens > 1:
                per_token = (e2e_s - ttft_s) / (completion_tokens - 1)
                for _ in range(completion_tokens - 1):
                    self._itl.labels(*self._tok_values).observe(per_token)
                self._tpot.labels(*tok).observe(per_token)
            self._e2e.labels(*tok).observe(e2e_s)
            self._prompt.labels(*tok).inc(prompt_tokens)
            self._generation.labels(*tok).inc(completion_tokens)
            if cached_tokens:
                self._cached.labels(*self._tok_values, "device").inc(cached_tokens)
            self._requests.labels(*tok).inc()
            self._queue_time.labels(*rank).observe(queue_s)
            self._stage.labels(*rank, "prefill_forward").observe(ttft_s - queue_s if ttft_s > queue_s else ttft_s)
            self._effective.labels(*rank, "device_hit").inc(cached_tokens)
            self._effective.labels(*rank, "input").inc(prompt_tokens - cached_tokens)
            self._hit_rate.labels(*rank).set(round(cached_tokens / prompt_tokens, 2) if prompt_tokens else 0.0)
            self.http_response("/v1/chat/completions", 200)

    def abort(self) -> None:
        """A request the client aborted: counted when the abort is sent, and finished like any other."""
        with self._lock:
            self._aborted.labels(*self._tok_values).inc()
            self._requests.labels(*self._tok_values, "true").inc()

    def retract(self, count: int = 1, dp_rank: int = 0) -> None:
        """Requests the scheduler retracted (SGLang's preemption) for lack of KV cache."""
        with self._lock:
            self._retracted.labels(*self._ranks[dp_rank]).inc(count)

    def set_load(self, *, running: int, queued: int, token_usage: float, dp_rank: int = 0) -> None:
        """The scheduler's last logged batch: running and queued requests, KV-pool usage (two decimals)."""
        rank = self._ranks[dp_rank]
        self._running.labels(*rank).set(running)
        self._queued.labels(*rank).set(queued)
        self._usage.labels(*rank).set(round(token_usage, 2))

    def http_response(self, endpoint: str, status_code: int, method: str = "POST") -> None:
        """One HTTP exchange of the API server's middleware."""
        self._http_requests.labels(endpoint, method).inc()
        self._http_responses.labels(endpoint, str(status_code), method).inc()

    def exposition(self) -> str:
        """What /metrics answers now (the Prometheus text format)."""
        return generate_latest(self.served).decode()

    @property
    def address(self) -> str:
        """host:port Prometheus (or a sidecar) scrapes, after `start`."""
        if self._server is None:
            raise RuntimeError("SglangMetrics.address before start()")
        return f"127.0.0.1:{self._server.server_port}"

    def start(self, port: int = 0) -> None:
        """Serve /metrics on 127.0.0.1 (``port`` 0 picks a free one)."""
        self._server, self._thread = start_http_server(port, addr="127.0.0.1", registry=self.served)

    def stop(self) -> None:
        """Stop serving (safe to call more than once, or before `start`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
