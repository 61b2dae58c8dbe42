"""The two vLLM families llm-d-inference-sim v0.10 does not emit, measured by the load generator.

The simulator serves most of vLLM's metrics but not `vllm:num_preemptions_total` nor the
per-request `vllm:request_time_per_output_token_seconds` histogram, so the dashboards' panels over
them would stay empty. `EngineFamilies` serves both for one engine (a pod, or one data-parallel
rank of it) under vLLM's own names, labels and buckets, on loopback, as an extra scrape target
labelled like that pod's sidecar: the normalization rules read them exactly as they read the
sidecar's pass-through of real vLLM metrics. The time per output token is what the client
measured of each real answer of the simulator (`observe`); the preemption counter exists at 0,
as on a vLLM engine that never ran out of KV-cache (the simulator never preempts).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import start_http_server

from inferwatch.config.buckets import VLLM_DEFAULT_BUCKETS
from inferwatch.localstack.served import stop_serving

PREEMPTIONS = "vllm:num_preemptions"  # exposed as vllm:num_preemptions_total
TPOT = "vllm:request_time_per_output_token_seconds"
MEASURED_FAMILIES = (f"{PREEMPTIONS}_total", TPOT)


class EngineFamilies:
    """vLLM's preemption counter and per-request TPOT histogram of one engine, served over HTTP on loopback.

    ``labels`` are the series' own labels (vLLM's `model_name`, and `engine` where the scrape
    target does not carry it); ``port`` 0 picks a free one (see `address` once started).
    """

    def __init__(self, labels: Mapping[str, str], port: int = 0) -> None:
        self.registry = CollectorRegistry()
        names = list(labels)
        values = [labels[n] for n in names]
        self.preemptions = Counter(PREEMPTIONS, "Cumulative number of preemptions from the engine.", names,
                                   registry=self.registry).labels(*values)  # fmt: skip
        self._tpot = Histogram(
            TPOT, "Histogram of time_per_output_token_seconds per request.", names,
            registry=self.registry, buckets=VLLM_DEFAULT_BUCKETS["tpot"],
        ).labels(*values)  # fmt: skip
        self.preemptions.inc(0)
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """host:port Prometheus scrapes (after `start`)."""
        if self._server is None:
            raise RuntimeError("EngineFamilies.address before start()")
        return f"127.0.0.1:{self._server.server_port}"

    def observe(self, tpot_seconds: float) -> None:
        """Record one request's time per output token (decode time over output tokens after the first)."""
        self._tpot.observe(tpot_seconds)

    def start(self) -> None:
        """Serve /metrics on 127.0.0.1 (OSError when the port is taken)."""
        self._server, self._thread = start_http_server(self._port, addr="127.0.0.1", registry=self.registry)

    def stop(self) -> None:
        """Stop serving (safe to call more than once, or before `start`)."""
        stop_serving(self._server, self._thread)
        self._server, self._thread = None, None
