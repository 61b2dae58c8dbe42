"""Exporter benchmark: scrape latency, CPU per scrape and RSS, inferwatch vs a naive baseline.

    python -m bench.exporter_bench [--real-nvml] [--scrapes N] [--concurrency 50] [--no-write]
                                   [--previous DIR --previous-label TEXT]

Both exporters serve the same data over HTTP from their own child process, one after the other:
8 GPUs (simulated NVML with the per-call costs measured on an H100, or the machine's real GPUs
with --real-nvml) plus a ~250 KB vLLM /metrics payload (several models and `engine` ranks, real
vLLM family names and default buckets) served by a local HTTP server in a process of its own.

* inferwatch: the real `inferwatch exporter run --mode sidecar` process. `GpuSampler` reads NVML
  on its own threads, the vLLM endpoint is scraped on a timer (the default 5 s, and 1 s as a
  stress) and its answer passed through by line (inferwatch.exporters.passthrough), and the exposition
  is rendered once per new snapshot; a scrape returns the rendered bytes.
* baseline: a prometheus-client collector that calls NVML for every GPU and fetches and parses
  the vLLM payload inside each scrape (what a first exporter usually does).

Two more cases: the same exporters under `--concurrency` scrapers at once (`--concurrent-scrapes`
in all), and the exporter's resident memory before, during and after oversized vLLM answers (a
1 MB label, a 50 MB body without Content-Length).

With `--previous DIR` (a folder where an earlier inferwatch is installed, e.g. `pip install --no-deps
--target DIR inferwatch-<old>.whl`), that version's `inferwatch exporter run` is measured in the same
run, on the same machine, before the current one: the p99 and peak RSS of this run stand against
the previous figures, not against numbers recorded on another day.

Figures go to the "exporter" section of docs/benchmarks.md (with --real-nvml, "exporter-<gpu>",
e.g. "exporter-h200", so the figures of each GPU model keep their own section).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import logging
import os
import random
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pynvml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from bench.report import gpu_description, machine_description, update_section
from inferwatch.config.exporter import ExporterSettings
from inferwatch.exporters import nvml
from inferwatch.exporters.nvml import NvmlApi
from inferwatch.exporters.passthrough import EngineExposition, translate_text
from inferwatch.exporters.priority import SCRAPES
from inferwatch.exporters.simulated import MEASURED_H100_LATENCIES_S, SimulatedNvml
from inferwatch.exporters.vllm import parse_exposition, repair_families, translate_families
from inferwatch.localstack.launchers import loopback
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ProcessGroup, http_ok, wait_for

log = logging.getLogger("bench.exporter")

SIMULATED_GPUS = 8
# (model, data-parallel engine ranks): a 70B on 4 ranks, a 32B on 2, a 7B on 1.
MODELS: tuple[tuple[str, int], ...] = (
    ("meta-llama/Llama-3.1-70B-Instruct", 4),
    ("Qwen/Qwen2.5-32B-Instruct", 2),
    ("mistralai/Mistral-7B-Instruct-v0.3", 1),
)
MAX_MODEL_LEN = 32768
# Issue 23's goals for the sidecar (they were 5 ms and 80 MB before).
TARGET_P99_S = 0.002
TARGET_SPEEDUP = 10.0
TARGET_RSS_MB = 70.0
IDLE_WINDOW_S = 3.0
DEFAULT_VLLM_INTERVAL_S = ExporterSettings().vllm_scrape_interval_s

# vLLM's default buckets of the families inferwatch's SLOs do not read (vllm/v1/metrics/loggers.py);
# the latency ones come from inferwatch.slo.buckets.
ITERATION_TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
PREFILL_TOKEN_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def _one_two_five(max_value: int) -> tuple[float, ...]:
    out: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return tuple(out)
            out.append(value)
        exponent += 1


def vllm_payload(models: Sequence[tuple[str, int]] = MODELS, seed: int = 7) -> bytes:
    """A vLLM /metrics body: real family names and default buckets, one series per model × engine."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # vLLM does the same: no *_created series
    # Imported here: it loads the Prometheus query client, which the baseline child must not hold.
    from inferwatch.slo.buckets import VLLM_DEFAULT_BUCKETS

    ttft, tpot, request = (VLLM_DEFAULT_BUCKETS[k] for k in ("ttft", "tpot", "e2e"))
    rng = random.Random(seed)
    reg = CollectorRegistry()
    labels = ["model_name", "engine"]
    gauges = [Gauge(n, n, labels, registry=reg) for n in
              ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc")]  # fmt: skip
    counters = [Counter(n, n, labels, registry=reg) for n in
                ("vllm:num_preemptions", "vllm:prompt_tokens", "vllm:generation_tokens",
                 "vllm:prefix_cache_queries", "vllm:prefix_cache_hits")]  # fmt: skip
    success = Counter("vllm:request_success", "requests", [*labels, "finished_reason"], registry=reg)
    tokens = _one_two_five(MAX_MODEL_LEN)
    histograms = [
        Histogram(name, name, labels, buckets=buckets, registry=reg)
        for name, buckets in (
            ("vllm:time_to_first_token_seconds", ttft),
            ("vllm:inter_token_latency_seconds", tpot),
            ("vllm:request_time_per_output_token_seconds", tpot),
            ("vllm:e2e_request_latency_seconds", request),
            ("vllm:request_queue_time_seconds", request),
            ("vllm:request_inference_time_seconds", request),
            ("vllm:request_prefill_time_seconds", request),
            ("vllm:request_decode_time_seconds", request),
            ("vllm:time_per_prefill_token_request_seconds", PREFILL_TOKEN_BUCKETS),
            ("vllm:request_prompt_tokens", tokens),
            ("vllm:request_generation_tokens", tokens),
            ("vllm:request_max_num_generation_tokens", tokens),
            ("vllm:request_params_max_tokens", tokens),
            ("vllm:request_params_n", (1, 2, 5, 10, 20)),
            ("vllm:iteration_tokens_total", ITERATION_TOKEN_BUCKETS),
        )
    ]
    for model, engines in models:
        for engine in range(engines):
            lv = (model, str(engine))
            for g in gauges:
                g.labels(*lv).set(round(rng.random() * 64, 3))
            for c in counters:
                c.labels(*lv).inc(rng.randint(10_000, 10_000_000))
            for reason in ("stop", "length", "abort", "error"):
                success.labels(*lv, reason).inc(rng.randint(0, 100_000))
            for h in histograms:
                child = h.labels(*lv)
                for _ in range(30):
                    child.observe(rng.lognormvariate(0, 2))
    return generate_latest(reg)


class _PayloadHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        body = self.body  # read once: a render thread may replace it while this answer is written
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark measures, it does not log requests."""


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (an exporter shutting down, a readiness probe) is no error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def serve_bytes(body_source: type[_PayloadHandler], port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server on loopback answering every GET with `body_source.body`, on a daemon thread."""
    server = _QuietServer(("127.0.0.1", port), body_source)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="bench-http", daemon=True).start()
    return server


# ----- the exporters (each runs in its own child process) -----------------------------------------
class NaiveCollector(Collector):
    """The baseline: NVML calls for every GPU and a vLLM fetch + parse inside each scrape."""

    def __init__(self, api: NvmlApi, url: str) -> None:
        self._api, self._url = api, url
        api.nvmlInit()

    def collect(self) -> Iterator[Metric]:
        api = self._api
        fams = {n: GaugeMetricFamily(f"naive_gpu_{n}", n, labels=["gpu_uuid"]) for n in
                ("util", "mem_used", "mem_total", "power", "limit", "temp", "energy", "mig", "throttle")}  # fmt: skip
        clocks = GaugeMetricFamily("naive_gpu_clock", "clock", labels=["gpu_uuid", "clock"])
        for i in range(api.nvmlDeviceGetCount()):
            h = api.nvmlDeviceGetHandleByIndex(i)
            u = nvml.as_text(api.nvmlDeviceGetUUID(h))
            mem = api.nvmlDeviceGetMemoryInfo(h)
            fams["mem_used"].add_metric([u], mem.used)
            fams["mem_total"].add_metric([u], mem.total)
            with contextlib.suppress(pynvml.NVMLError):  # a MIG-enabled GPU: left out, naively
                fams["util"].add_metric([u], api.nvmlDeviceGetUtilizationRates(h).gpu / 100)
            fams["power"].add_metric([u], api.nvmlDeviceGetPowerUsage(h) / 1000)
            fams["limit"].add_metric([u], api.nvmlDeviceGetEnforcedPowerLimit(h) / 1000)
            fams["temp"].add_metric([u], api.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))
            fams["energy"].add_metric([u], api.nvmlDeviceGetTotalEnergyConsumption(h) / 1000)
            fams["mig"].add_metric([u], api.nvmlDeviceGetMigMode(h)[0])
            fams["throttle"].add_metric([u], api.nvmlDeviceGetCurrentClocksEventReasons(h))
            for label, clock_type in nvml.CLOCKS:
                clocks.add_metric([u, label], api.nvmlDeviceGetClockInfo(h, clock_type) * 1e6)
        yield from fams.values()
        yield clocks
        with urllib.request.urlopen(self._url, timeout=5) as resp:
            yield from text_string_to_metric_families(resp.read().decode())


def _backend(real_nvml: bool) -> NvmlApi:
    if real_nvml:
        api: NvmlApi = pynvml
        return api
    return SimulatedNvml(SIMULATED_GPUS, latencies_s=MEASURED_H100_LATENCIES_S)


def _serve_child(kind: str, url: str, port: int, real_nvml: bool) -> None:
    """Child process: serve the vLLM payload or the baseline exporter on `port` until stdin closes or SIGTERM."""
    if kind == "payload":

        class Payload(_PayloadHandler):
            body = vllm_payload()

        serve_bytes(Payload, port)
        sys.stdin.readline()
        return
    if kind == "baseline":
        registry = CollectorRegistry()
        registry.register(NaiveCollector(_backend(real_nvml), url))

        class Live(_PayloadHandler):
            def do_GET(self) -> None:
                type(self).body = generate_latest(registry)
                super().do_GET()

        serve_bytes(Live, port)
        sys.stdin.readline()  # the parent closes stdin when it is done
        return

    raise ValueError(f"unknown exporter kind {kind!r}")


@dataclass(frozen=True)
class Result:
    """Figures of one exporter's run."""

    name: str
    scrapes: int
    p50_s: float
    p99_s: float
    cpu_per_scrape_s: float
    background_cpu_ratio: float
    rss_mb: float
    body_bytes: int


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def exporter_command(url: str, port: int, real_nvml: bool) -> list[str]:
    """`inferwatch exporter run` as a sidecar deploys it (cadences: `exporter_env`)."""
    backend = ["--gpu-backend", "nvml"] if real_nvml else ["--gpu-backend", "simulated", "--simulated-gpus", "8"]
    # -P: the installed inferwatch (or --previous's), never a checkout's folder in the working directory.
    return [sys.executable, "-P", "-m", "inferwatch", "--log-level", "warning", "exporter", "run", "--mode", "sidecar",
            *backend, "--vllm-url", url, "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip


def exporter_env(vllm_interval_s: float) -> dict[str, str]:
    """The exporter's settings: the defaults (GPUs every 1 s, slow reads every 10 s) but for the vLLM cadence."""
    return {
        "INFERWATCH_EXPORTER__SAMPLE_INTERVAL_S": "1",
        "INFERWATCH_EXPORTER__SLOW_SAMPLE_INTERVAL_S": "10",
        "INFERWATCH_EXPORTER__VLLM_SCRAPE_INTERVAL_S": f"{vllm_interval_s:g}",
        "INFERWATCH_EXPORTER__SIMULATED_NVML_LATENCIES": "true",
    }


@dataclass(frozen=True)
class WebBench:
    """The exporter behind a web configuration file: TLS (a self-signed certificate) and one basic-auth user."""

    config_file: Path
    context: ssl.SSLContext
    authorization: str


def web_bench(workdir: Path) -> WebBench:
    """A web configuration as node-exporter users write one: TLS and a bcrypt user (cost 10), in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "tls.crt", workdir / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    hashed = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(10)).decode()
    config = workdir / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  bench: '{hashed}'\n"
    )
    return WebBench(
        config,
        ssl.create_default_context(cafile=str(cert)),
        "Basic " + base64.b64encode(b"bench:bench-password").decode(),
    )


def _connection(port: int, web: WebBench | None) -> http.client.HTTPConnection:
    if web is None:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=web.context)


@contextlib.contextmanager
def child_server(
    cmd: list[str], port: int, env: dict[str, str] | None = None, web: WebBench | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `cmd` (an HTTP server on `port`) until the block ends; yields once `/readyz` answers 200.

    The in-module children answer every GET with 200; `inferwatch exporter run` only once every
    source has its first snapshot. The in-module children end when their stdin closes; the
    exporter shuts down gracefully on SIGTERM (the local stack's supervisor does both).
    """
    with ProcessGroup(Path.cwd(), grace_s=30) as group:
        child = group.spawn(
            " ".join(cmd[1:5]), cmd, loopback(port), env={**os.environ, **(env or {})}, cwd=Path.cwd(),
            inherit_output=True, stdin_pipe=True,
        )  # fmt: skip
        scheme_url = child.url.replace("http://", "https://") if web is not None else child.url
        probe = http_ok(scheme_url + "/readyz", verify=web.context if web is not None else True)
        wait_for(probe, "/readyz answers 200", timeout=60, watch=[child])
        yield child.proc


def _bench_child(kind: str, url: str, port: int, real_nvml: bool) -> list[str]:
    cmd = [sys.executable, "-m", "bench.exporter_bench", "--serve", kind, "--vllm-url", url, "--port", str(port)]
    return [*cmd, "--real-nvml"] if real_nvml else cmd


def measure(
    name: str,
    url: str,
    scrapes: int,
    real_nvml: bool,
    *,
    vllm_interval_s: float | None,
    pause_s: float,
    web: WebBench | None = None,
    previous: Path | None = None,
) -> Result:
    """Start one exporter in a child process and scrape it `scrapes` times over one keep-alive connection.

    With `vllm_interval_s` it is the real `inferwatch exporter run` process scraping vLLM at that
    cadence; without, the baseline. `pause_s` between scrapes spreads them over many cycles of the
    exporter's background work (vLLM scrapes and renders), so the percentiles see scrapes that
    arrive during it as often as a real Prometheus would, not a burst that fits between two cycles.
    With `web`, the exporter reads that web configuration and is scraped over TLS with basic auth.
    With `previous`, the exporter is the inferwatch installed in that folder (first on its PYTHONPATH).
    """
    port = free_port()
    if vllm_interval_s is None:
        cmd, env = _bench_child("baseline", url, port, real_nvml), {}
    else:
        cmd, env = exporter_command(url, port, real_nvml), exporter_env(vllm_interval_s)
        if previous is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(previous), os.environ.get("PYTHONPATH")) if p)
    if web is not None:
        cmd = [*cmd, "--web.config.file", str(web.config_file)]
    headers = {"Authorization": web.authorization} if web is not None else {}
    with child_server(cmd, port, env, web) as child:
        conn = _connection(port, web)
        body = b""
        for _ in range(max(3, scrapes // 20)):  # warm-up
            conn.request("GET", "/metrics", headers=headers)
            body = conn.getresponse().read()
        # The background work alone (samplers, vLLM scrapes, renders), over an idle window.
        idle0, wall0 = _proc_cpu_s(child.pid), time.perf_counter()
        time.sleep(IDLE_WINDOW_S)
        background = (_proc_cpu_s(child.pid) - idle0) / (time.perf_counter() - wall0)
        latencies: list[float] = []
        cpu0, run0 = _proc_cpu_s(child.pid), time.perf_counter()
        for _ in range(scrapes):
            t0 = time.perf_counter()
            conn.request("GET", "/metrics", headers=headers)
            body = conn.getresponse().read()
            latencies.append(time.perf_counter() - t0)
            time.sleep(pause_s)
        cpu = _proc_cpu_s(child.pid) - cpu0 - background * (time.perf_counter() - run0)
        rss = _proc_rss_mb(child.pid)
        conn.close()
    latencies.sort()
    return Result(
        name=name,
        scrapes=scrapes,
        p50_s=statistics.median(latencies),
        p99_s=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        cpu_per_scrape_s=max(cpu, 0.0) / scrapes,
        background_cpu_ratio=background,
        rss_mb=rss,
        body_bytes=len(body),
    )


@dataclass(frozen=True)
class ConcurrentResult:
    """Figures of one exporter under `concurrency` scrapers at once."""

    name: str
    scrapes: int
    concurrency: int
    failed: int
    p50_s: float
    p99_s: float
    max_s: float
    rss_mb: float


def _scrape_concurrently(port: int, total: int, concurrency: int) -> tuple[list[float], int]:
    """`total` scrapes by `concurrency` threads, each on its own keep-alive connection; (latencies, failures)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(concurrency)

    def scraper(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        mine: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t0)
            if not ok:
                with lock:
                    failures[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=scraper, args=(total // concurrency + (i < total % concurrency),))
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies), failures[0]


def measure_concurrent(
    name: str, url: str, total: int, concurrency: int, real_nvml: bool, *, baseline: bool
) -> ConcurrentResult:
    """Start one exporter (the real one at the default vLLM cadence, or the baseline) and hit it concurrently."""
    port = free_port()
    if baseline:
        cmd, env = _bench_child("baseline", url, port, real_nvml), {}
    else:
        cmd, env = exporter_command(url, port, real_nvml), exporter_env(DEFAULT_VLLM_INTERVAL_S)
    with child_server(cmd, port, env) as child:
        _scrape_concurrently(port, concurrency, concurrency)  # warm-up: every connection once
        latencies, failed = _scrape_concurrently(port, total, concurrency)
        rss = _proc_rss_mb(child.pid)
    return ConcurrentResult(
        name=name,
        scrapes=total,
        concurrency=concurrency,
        failed=failed,
        p50_s=statistics.median(latencies),
        p99_s=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        max_s=latencies[-1],
        rss_mb=rss,
    )


class _SwitchablePayload(_PayloadHandler):
    """Answers `body`; with `streamed`, without a Content-Length (the exporter learns the size by reading)."""

    streamed = False

    def do_GET(self) -> None:
        if not type(self).streamed:
            super().do_GET()
            return
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # the exporter hangs up at its size limit
            self.wfile.write(self.body)


def _current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_oversized_memory(real_nvml: bool, stage_s: float = 6.0) -> list[tuple[str, float]]:
    """Resident MB of the exporter (vLLM read every second) at the end of each stage of answers."""
    normal = vllm_payload()
    label = normal + b'vllm:num_requests_running{model_name="' + b"x" * (1 << 20) + b'",engine="9"} 1\n'
    body = normal + b"# " + b"y" * (50 << 20) + b"\n"

    class Payload(_SwitchablePayload):
        pass

    Payload.body = normal
    server = serve_bytes(Payload)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    port = free_port()
    out: list[tuple[str, float]] = []
    try:
        with child_server(exporter_command(url, port, real_nvml), port, exporter_env(1.0)) as child:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for stage, answer, streamed in (
                ("steady (the usual answer)", normal, False),
                ("an answer with a 1 MB label", label, False),
                ("the usual answer again", normal, False),
                ("a 50 MB answer without Content-Length (read to the 32 MB limit, refused)", body, True),
                ("the usual answer again (settled)", normal, False),
            ):
                Payload.body, Payload.streamed = answer, streamed
                end = time.monotonic() + stage_s
                while time.monotonic() < end:  # a Prometheus scraping every 100 ms meanwhile
                    conn.request("GET", "/metrics")
                    conn.getresponse().read()
                    time.sleep(0.1)
                out.append((stage, _current_rss_mb(child.pid)))
            out.append(("peak", _proc_rss_mb(child.pid)))
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
    return out


def render_concurrency(results: Sequence[ConcurrentResult], sequential_p99_s: float) -> str:
    """The concurrency table, with the inferwatch exporter's p99 against its own sequential p99 of this run."""
    lines = [
        f"**Concurrent scrapes** ({results[0].concurrency} scrapers at once, each on its own keep-alive "
        "connection, started together; the client runs on the same cores):",
        "",
        "| exporter | scrapes | concurrent | failed | p50 ms | p99 ms | max ms | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.scrapes} | {r.concurrency} | {r.failed} | {r.p50_s * 1e3:.1f} | {r.p99_s * 1e3:.1f} | "
            f"{r.max_s * 1e3:.1f} | {r.rss_mb:.0f} |"
        )
    ours = results[0]
    lines += ["", f"p99 at {ours.concurrency} concurrent is {ours.p99_s / sequential_p99_s:.1f}× the sequential p99 "
              "of the same exporter in this run (the scrapes queue on the event loop; each is answered from "
              "the rendered text)."]  # fmt: skip
    if len(results) > 1:
        lines[-1] += f" The baseline's p99 is {results[1].p99_s / ours.p99_s:.0f}× the exporter's."
    return "\n".join(lines)


def render_memory(stages: Sequence[tuple[str, float]]) -> str:
    """The memory-after-oversized-answers table."""
    lines = [
        "**Memory after oversized vLLM answers** (the exporter reads vLLM every second; resident MB at the "
        "end of each stage of about 6 s, then the peak):",
        "",
        "| vLLM answered | RSS MB |",
        "|---|---:|",
        *(f"| {stage} | {mb:.0f} |" for stage, mb in stages),
        "",
        "glibc keeps the heap pages an oversized answer freed; the vLLM scraper gives them back "
        "(`malloc_trim`, `inferwatch/exporters/memory.py`) after an answer of 1 MiB or more and after the "
        "two that follow. Before, RSS settled about 38 MB above steady (103 MB against 65 MB on the CPU "
        "machine); what remains above steady is freed Python-object memory the interpreter keeps for reuse.",
    ]
    return "\n".join(lines)


# What the exporter process holds before it samples anything: each step imports more (cumulative).
FOOTPRINT_STEPS: tuple[tuple[str, str], ...] = (
    ("Python itself", "pass"),
    ("+ prometheus_client", "import prometheus_client"),
    ("+ pydantic, click (config, CLI)", "import pydantic, click; from inferwatch.app.cli import cli"),
    ("+ urllib3 (vLLM scraper)", "import urllib3; urllib3.PoolManager()"),
    ("+ Starlette, uvicorn", "import starlette.applications, uvicorn"),
    ("+ the exporter command", "cli.get_command(None, 'exporter')"),
    ("+ nvmlInit() (the driver's libnvidia-ml)", "import pynvml; pynvml.nvmlInit()"),
)


def import_footprint(real_nvml: bool) -> list[tuple[str, float]]:
    """Resident MB of a fresh interpreter after each of `FOOTPRINT_STEPS` (NVML only with `real_nvml`)."""
    steps = [step for step in FOOTPRINT_STEPS if real_nvml or "nvmlInit" not in step[1]]
    code = "\n".join(
        [
            "def rss():",
            "    for line in open('/proc/self/status'):",
            "        if line.startswith('VmRSS:'):",
            "            return int(line.split()[1]) / 1024",
            *(f"{stmt}\nprint(rss(), flush=True)" for _, stmt in steps),
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [(label, float(mb)) for (label, _), mb in zip(steps, out.split(), strict=True)]


def nvml_call_costs(api: NvmlApi, repeat: int = 50) -> list[tuple[str, float]]:
    """Median seconds per call of each NVML read the sampler makes, on GPU 0."""
    api.nvmlInit()
    try:
        h = api.nvmlDeviceGetHandleByIndex(0)
        calls: list[tuple[str, Callable[[], object]]] = [
            ("nvmlDeviceGetUtilizationRates", lambda: api.nvmlDeviceGetUtilizationRates(h)),
            ("nvmlDeviceGetMemoryInfo", lambda: api.nvmlDeviceGetMemoryInfo(h)),
            ("nvmlDeviceGetPowerUsage", lambda: api.nvmlDeviceGetPowerUsage(h)),
            ("nvmlDeviceGetTemperature", lambda: api.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)),
            ("nvmlDeviceGetClockInfo", lambda: api.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)),
            ("nvmlDeviceGetCurrentClocksEventReasons", lambda: api.nvmlDeviceGetCurrentClocksEventReasons(h)),
            ("nvmlDeviceGetTotalEnergyConsumption", lambda: api.nvmlDeviceGetTotalEnergyConsumption(h)),
            ("nvmlDeviceGetFieldValues (slow set)", lambda: nvml.read_fields(api, h, nvml.SLOW_FIELDS)),
            ("nvmlDeviceGetMigMode", lambda: api.nvmlDeviceGetMigMode(h)),
        ]
        out: list[tuple[str, float]] = []
        for name, call in calls:
            times: list[float] = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                try:
                    call()
                except pynvml.NVMLError:
                    break
                times.append(time.perf_counter() - t0)
            if times:
                out.append((name, statistics.median(times)))
        return out
    finally:
        api.nvmlShutdown()


class _PieceProbe:
    """Stands in for `SCRAPES.step_aside()`: records the thread's CPU time since the last call."""

    def __init__(self) -> None:
        self.pieces: list[float] = []
        self.mark = time.thread_time()

    def __call__(self) -> None:
        now = time.thread_time()
        self.pieces.append(now - self.mark)
        self.mark = now


def background_pieces(payload: str, repeat: int = 5) -> list[tuple[str, float, float]]:
    """The exporter's work on one vLLM answer, in this process: (path, CPU ms, longest piece ms), medians of `repeat`.

    A piece is the CPU time between two hand-overs of the interpreter to scrapes (`SCRAPES.step_aside()`):
    what a scrape arriving meanwhile may wait for, whatever the machine's load. CPU time of this thread
    (`time.thread_time`), so other work on the machine does not count.
    """

    def line_pass() -> object:
        return translate_text(payload)

    def full_parse() -> object:  # what every answer took before the line pass, and what it falls back to
        families, _ = repair_families(parse_exposition(payload))
        return EngineExposition.of_families(translate_families(families))

    out: list[tuple[str, float, float]] = []
    for name, work in (("line pass (this version)", line_pass),
                       ("full parse, repair and render (before; still the fallback)", full_parse)):  # fmt: skip
        totals: list[float] = []
        longest: list[float] = []
        for _ in range(repeat):
            probe = _PieceProbe()
            SCRAPES.step_aside = probe  # type: ignore[method-assign]
            try:
                start = time.thread_time()
                work()
                probe()
            finally:
                del SCRAPES.step_aside
            totals.append(probe.mark - start)
            longest.append(max(probe.pieces))
        out.append((name, statistics.median(totals), statistics.median(longest)))
    return out


def render_pieces(rows: Sequence[tuple[str, float, float]]) -> str:
    """The table of `background_pieces`."""
    lines = [
        "**The background work on one vLLM answer** (236 KB, in the bench's own process; CPU time of its "
        "thread, median of 5; a piece is the work between two hand-overs of the interpreter to the scrapes "
        "in flight, what a scrape arriving meanwhile may wait for):",
        "",
        "| path | CPU ms per answer | longest piece ms |",
        "|---|---:|---:|",
        *(f"| {name} | {total * 1e3:.1f} | {piece * 1e3:.2f} |" for name, total, piece in rows),
    ]
    return "\n".join(lines)


PREVIOUS = "previous"


def render_previous(pairs: Sequence[tuple[Result, Result]]) -> str:
    """This run's exporter against the previous version measured in the same run (`--previous`)."""
    lines = ["**Against the previous version, same run, same machine** (the rows `previous …` above):", ""]
    for now, before in pairs:
        lines.append(
            f"- {now.name}: peak RSS {now.rss_mb:.0f} MB against {before.rss_mb:.0f} MB "
            f"({now.rss_mb - before.rss_mb:+.0f} MB), p99 {now.p99_s * 1e3:.2f} ms against "
            f"{before.p99_s * 1e3:.2f} ms, p50 {now.p50_s * 1e3:.2f} ms against {before.p50_s * 1e3:.2f} ms."
        )
    return "\n".join(lines)


def render_markdown(results: Sequence[Result], payload_bytes: int, gpus: str, real_nvml: bool) -> str:
    """The docs/benchmarks.md section for one run."""
    base = next(r for r in results if r.name == "baseline")

    def verdict(r: Result) -> str:
        speedup = base.p99_s / r.p99_s
        checks = (
            ("p99", r.p99_s <= TARGET_P99_S),
            ("speed-up", speedup >= TARGET_SPEEDUP),
            ("RSS", r.rss_mb <= TARGET_RSS_MB),
        )
        missed = [name for name, ok in checks if not ok]
        return f"`{r.name}`: **{speedup:.0f}×** the baseline at p99 ({base.p50_s / r.p50_s:.0f}× at p50); " + (
            "every target **met**" if not missed else f"**NOT met**: {', '.join(missed)}"
        )

    load = os.getloadavg()[0]
    lines = [
        f"Machine: {machine_description()}; 1-minute load average {load:.1f} when the report was written "
        "(other work on a shared machine shows up in the p99).",
        f"GPUs: {gpus}. vLLM payload: {payload_bytes / 1024:.0f} KB ({len(MODELS)} models, "
        f"{sum(e for _, e in MODELS)} engine ranks in all, "
        "vLLM's family names and default buckets), served from a local HTTP server.",
        "Each exporter runs in its own process and is scraped over one keep-alive HTTP connection, with a "
        "pause between scrapes so that they span many cycles of its background work. Background CPU is the "
        f"exporter process's user+system time over a {IDLE_WINDOW_S:.0f} s window without scrapes (sampling, "
        "vLLM scrapes, rendering), as a share of one core; CPU per scrape is its time during the scrapes less "
        "that background rate, divided by the number of scrapes; RSS is the process's peak resident set.",
        "",
        "| exporter | scrapes | p50 ms | p99 ms | CPU ms/scrape | background CPU % | peak RSS MB | body KB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.scrapes} | {r.p50_s * 1e3:.2f} | {r.p99_s * 1e3:.2f} | "
            f"{r.cpu_per_scrape_s * 1e3:.2f} | {r.background_cpu_ratio * 100:.1f} | {r.rss_mb:.0f} | "
            f"{r.body_bytes / 1024:.0f} |"
        )
    lines += [
        "",
        "`inferwatch` is the exporter itself: the `inferwatch exporter run --mode sidecar` process "
        "(Starlette under uvicorn over `GpuSampler` and the vLLM scraper; GPUs read every second, vLLM at the "
        "cadence named): collectors read snapshots only and each source's text is rendered once per new "
        "snapshot, in the background; vLLM's answer is passed through by line, renamed and filtered without "
        "parsing it into objects. `baseline` calls NVML and fetches + parses vLLM inside each scrape.",
        "",
        f"Targets (set for 8 simulated GPUs; a real-GPU run is held to them too): p99 ≤ "
        f"{TARGET_P99_S * 1e3:.0f} ms, ≥ {TARGET_SPEEDUP:.0f}× the baseline, RSS ≤ {TARGET_RSS_MB:.0f} MB.",
        *(f"- {verdict(r)}." for r in results if r is not base and not r.name.startswith(PREVIOUS)),
    ]
    if not real_nvml:
        lines.append(
            "\nNVML is the simulated backend with the per-call costs measured on an H100 (this page's H100 section): "
            "most reads 3 µs, total energy and field values 4 ms, MIG mode 150 µs."
        )
    return "\n".join(lines)


def section_name(gpus: str) -> str:
    """The docs/benchmarks.md section of a real-GPU run: "exporter-h200" for an NVIDIA H200."""
    model = re.search(r"\b([A-Z]+\d{2,4})\b", gpus)
    return f"exporter-{model.group(1).lower()}" if model else "exporter-gpu"


def main(argv: Sequence[str] | None = None) -> int:
    """Run both exporters, print the table and write it into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-nvml", action="store_true", help="read this machine's GPUs instead of simulated ones")
    parser.add_argument("--scrapes", type=int, default=2000, help="scrapes of the inferwatch exporter")
    parser.add_argument("--baseline-scrapes", type=int, default=100, help="scrapes of the (slow) baseline")
    parser.add_argument(
        "--pause-ms", type=float, default=5.0, help="pause between scrapes, so they span many background cycles"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="scrapers at once in the concurrency case")
    parser.add_argument("--concurrent-scrapes", type=int, default=500, help="scrapes of the concurrency case")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--previous", type=Path, help="folder holding an earlier inferwatch (pip --target): measured in the same run"
    )
    parser.add_argument("--previous-label", default="earlier version", help="how the report names --previous")
    parser.add_argument("--serve", choices=["payload", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--vllm-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.serve:
        _serve_child(args.serve, args.vllm_url, args.port, args.real_nvml)
        return 0

    # The payload has a process of its own, so that serving it never holds the client's GIL.
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with child_server(_bench_child("payload", url, port, False), port):
        cadences = ((f"vLLM every {DEFAULT_VLLM_INTERVAL_S:g} s, the default", DEFAULT_VLLM_INTERVAL_S),
                    ("vLLM every 1 s", 1.0))  # fmt: skip
        pause_s = args.pause_ms / 1000
        results: list[Result] = []
        pairs: list[tuple[Result, Result]] = []
        for label, interval in cadences:
            before = None
            if args.previous is not None:  # first, so the current version never runs on a warmer machine
                before = measure(f"{PREVIOUS} ({args.previous_label}), {label}", url, args.scrapes, args.real_nvml,
                                 vllm_interval_s=interval, pause_s=pause_s, previous=args.previous)  # fmt: skip
            now = measure(f"inferwatch ({label})", url, args.scrapes, args.real_nvml, vllm_interval_s=interval,
                          pause_s=pause_s)  # fmt: skip
            results.append(now)
            if before is not None:
                results.append(before)
                pairs.append((now, before))
        results.append(measure("baseline", url, args.baseline_scrapes, args.real_nvml, vllm_interval_s=None,
                               pause_s=pause_s))  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="inferwatch-bench-web-") as tmp:
            results.insert(len(results) - 1, measure(
                f"inferwatch behind --web.config.file (TLS + basic auth, vLLM every {DEFAULT_VLLM_INTERVAL_S:g} s)",
                url, args.scrapes, args.real_nvml, vllm_interval_s=DEFAULT_VLLM_INTERVAL_S,
                pause_s=pause_s, web=web_bench(Path(tmp)),
            ))  # fmt: skip
        concurrent = [
            measure_concurrent("inferwatch (vLLM every 5 s, the default)", url, args.concurrent_scrapes,
                               args.concurrency, args.real_nvml, baseline=False),
            measure_concurrent("baseline", url, max(args.concurrency, args.baseline_scrapes), args.concurrency,
                               args.real_nvml, baseline=True),
        ]  # fmt: skip
    stages = measure_oversized_memory(args.real_nvml)
    pieces = background_pieces(vllm_payload().decode())
    payload_bytes = len(vllm_payload())
    gpus = f"real NVML: {gpu_description() or 'unknown GPU'}" if args.real_nvml else f"{SIMULATED_GPUS} simulated H100s"
    markdown = render_markdown(results, payload_bytes, gpus, args.real_nvml)
    if pairs:
        markdown += "\n\n" + render_previous(pairs)
    markdown += "\n\n" + render_concurrency(concurrent, results[0].p99_s)
    markdown += "\n\n" + render_memory(stages)
    markdown += "\n\n" + render_pieces(pieces)
    markdown += "\n\nWhere the exporter's memory goes: resident MB of a fresh interpreter as it loads what the "
    markdown += "exporter loads, before any sample is taken:\n\n| step | RSS MB |\n|---|---:|\n"
    markdown += "\n".join(f"| {label} | {mb:.0f} |" for label, mb in import_footprint(args.real_nvml))
    if args.real_nvml:
        costs = nvml_call_costs(_backend(True))
        markdown += "\n\nNVML call costs on this GPU (median of 50 calls):\n\n| call | µs |\n|---|---:|\n"
        markdown += "\n".join(f"| {name} | {seconds * 1e6:.1f} |" for name, seconds in costs)
    sys.stdout.write(markdown + "\n")
    if not args.no_write:
        update_section(section_name(gpus) if args.real_nvml else "exporter", markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
