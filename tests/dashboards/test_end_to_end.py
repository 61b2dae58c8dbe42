"""End to end: two simulated vLLM deployments in two namespaces and an SGLang-shaped one in a third,
their sidecar exporters, an llm-d-router-shaped endpoint picker in front of the first, a DaemonSet
exporter attributing four GPUs (one time-sliced, one MIG-partitioned) through a real pod-resources
gRPC server, Prometheus 3 with every generated rule file over a backfilled SLO and cost history,
traffic; the preview of every dashboard has no empty panel, and the panels empty by design are
made to show (an Xid is raised, prefix caching, preemptions and router errors are exercised).
The SGLang pod feeds the same panels as the vLLM ones, and the panels over what SGLang does not
report say so for it."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import ArtifactKind
from inferwatch.config import InferwatchConfig, PrometheusSettings, load_config
from inferwatch.config.buckets import SGLANG_DEFAULT_BUCKETS, HistogramBuckets, SglangBuckets
from inferwatch.config.exporter import ExporterSettings
from inferwatch.config.model import edge_problems
from inferwatch.dashboards.engines import NOT_REPORTED_LABEL
from inferwatch.dashboards.preview import render_previews
from inferwatch.dashboards.results import PreviewResult
from inferwatch.demo.engine_families import EngineFamilies
from inferwatch.exporters import run as exporter_run
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.exporters.simulated import SimulatedNvml
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render
from inferwatch.localstack.router import RouterMetrics
from inferwatch.localstack.sglang import SglangMetrics
from inferwatch.prom import PrometheusReader
from inferwatch.rules import dump_yaml
from inferwatch.slo.buckets import scraped_boundaries
from inferwatch.tools import Toolbox
from tests.conftest import REPO_ROOT, Starter
from tests.dashboards.history import H100, HELD, HOURS, TEAMS, cost_series, slo_series
from tests.support.exporter import exporter_process

GPUS = [f"GPU-5{i:07d}-0000-4000-8000-00000000000{i}" for i in range(4)]
MIG_HELD = "MIG-03000000-0000-4000-8000-000000000000"  # GPU 3's 3-slice instance
MIG_FREE = "MIG-03010000-0000-4000-8000-000000000000"
NODE = "gpu-node-1"
# The live dashboards are previewed over the minutes the test runs, the SLO and Cost ones over
# the backfilled hours.
LIVE_MINUTES = 3
LIVE_SECONDS = 90
# The SGLang-shaped pod: (namespace, model, pod). It runs with --bucket-time-to-first-token adding
# 2.5 s to SGLang's defaults, so the example's chat-ttft threshold is a boundary on both engines.
SGLANG = ("team-c", "chat-c", "c-0")
SGLANG_TTFT = tuple(sorted({*SGLANG_DEFAULT_BUCKETS["ttft"], 2.5}))
# The InferencePool the router-shaped picker routes chat-a through, a LoRA adapter of it, and tenants.
POOL = "chat-a-pool"
ADAPTER = "chat-a-support"
TENANTS = ("team-search", "team-support", "default-flow")


@contextlib.contextmanager
def daemonset_exporter(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, SimulatedNvml]]:
    """The DaemonSet exporter as `inferwatch exporter run --mode daemonset` builds it, over four
    simulated GPUs (GPU 3 in MIG mode with a 3- and a 1-slice instance) and a real kubelet
    pod-resources gRPC server: team-a holds GPU 0, team-b GPU 1, teams a, b and c share GPU 2 by
    time-slicing (4 replicas), team-b holds GPU 3's 3-slice instance."""
    nvml = SimulatedNvml(4, mig_gpus={3: (3, 1)})
    for index, load in ((0, 0.72), (1, 0.55), (2, 0.0)):  # GPU 2 is held but idle
        nvml.set_load(index, load)
    node = NodeAllocation(
        assignments=(
            ContainerDevices("team-a", "a-0", "vllm", GPU_RESOURCE, (GPUS[0], f"{GPUS[2]}::0")),
            ContainerDevices("team-b", "b-0", "vllm", GPU_RESOURCE, (GPUS[1], f"{GPUS[2]}::1")),
            ContainerDevices("team-b", "b-0", "vllm", "nvidia.com/mig-3g.40gb", (MIG_HELD,)),
            ContainerDevices("team-c", "c-0", "sglang", GPU_RESOURCE, (f"{GPUS[2]}::2",)),
        ),
        allocatable={
            GPU_RESOURCE: (GPUS[0], GPUS[1], *(f"{GPUS[2]}::{i}" for i in range(4))),
            "nvidia.com/mig-3g.40gb": (MIG_HELD,),
            "nvidia.com/mig-1g.10gb": (MIG_FREE,),
        },
    )
    sock_dir = tmp / "pr"
    sock_dir.mkdir(parents=True)
    kubelet = PodResourcesServer(sock_dir / "kubelet.sock", node)
    monkeypatch.setattr(exporter_run, "open_backend", lambda *a, **k: nvml)
    settings = ExporterSettings(
        mode="daemonset",
        gpu_backend="simulated",
        pod_resources_socket=str(sock_dir / "kubelet.sock"),
        pod_resources_refresh_s=1.0,
        sample_interval_s=0.5,
        slow_sample_interval_s=1.0,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(exporter_run.build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "the DaemonSet exporter to listen")
        yield f"127.0.0.1:{port}", nvml
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        kubelet.stop()


@contextlib.contextmanager
def engine_families(model: str) -> Iterator[EngineFamilies]:
    """vllm:num_preemptions_total and vllm:request_time_per_output_token_seconds for one pod, served
    as the demo serves them (the simulator has neither, and real vLLM cannot run here)."""
    families = EngineFamilies({"model_name": model, "engine": "0"})
    families.start()
    try:
        yield families
    finally:
        families.stop()


@contextlib.contextmanager
def serving(server: SglangMetrics | RouterMetrics) -> Iterator[None]:
    """An SGLang- or router-shaped metrics server on loopback, stopped afterwards."""
    server.start()
    try:
        yield
    finally:
        server.stop()


@dataclass
class Fleet:
    """What the traffic drives besides the simulators: the measured vLLM families, SGLang, the router."""

    engines: dict[str, EngineFamilies]
    sglang: SglangMetrics
    router: RouterMetrics


def _traffic(urls: dict[str, str], fleet: Fleet, stop: threading.Event) -> None:
    """Chat completions to both simulated models until stopped; prompts repeat so the prefix cache hits;
    each answer's time per output token is recorded, and now and then chat-b's engine preempts. chat-a
    goes through the router (for three tenants, a fifth of it to a LoRA adapter; now and then shed or
    failed); the SGLang pod serves a request of its own each round, as SGLang records one."""
    prompts = ["You are a helpful assistant. Summarize the incident report for the on-call engineer."] * 3 + [
        "Translate to French: the GPU fleet is healthy."
    ]
    with httpx.Client(timeout=30) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            for model, url in urls.items():
                content = prompts[i % len(prompts)]
                body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 12}
                began = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    answer = client.post(f"{url}/v1/chat/completions", json=body).json()
                    tokens = int(answer["usage"]["completion_tokens"])
                    took = time.monotonic() - began
                    fleet.engines[model].observe(took / max(tokens, 1))
                    if model == "chat-a":
                        fleet.router.observe_request(
                            model,
                            ADAPTER if i % 5 == 0 else model,
                            input_tokens=int(answer["usage"]["prompt_tokens"]),
                            output_tokens=tokens,
                            duration_s=took,
                            fairness_id=TENANTS[i % len(TENANTS)],
                        )
            _sglang_and_router_round(fleet, i)
            if i % 10 == 0:
                fleet.engines["chat-b"].preemptions.inc()
            time.sleep(0.2)


def _sglang_and_router_round(fleet: Fleet, i: int) -> None:
    cached = 64 if i % 4 else 0  # the repeated system prompt, from the radix cache
    ttft, e2e = 0.12 + 0.02 * (i % 5), 0.5 + 0.05 * (i % 7)
    fleet.sglang.observe_request(
        prompt_tokens=96, completion_tokens=12, cached_tokens=cached, ttft_s=ttft, e2e_s=e2e, queue_s=0.002 * (i % 3)
    )
    fleet.sglang.set_load(running=1 + i % 2, queued=i % 3, token_usage=0.2 + 0.05 * (i % 4))
    if i % 15 == 0:
        fleet.sglang.retract()
    if i % 25 == 0:
        fleet.router.shed("chat-a", "chat-a", fairness_id=TENANTS[i % len(TENANTS)])
    if i % 40 == 0:
        fleet.router.error(ADAPTER, ADAPTER, "ServiceUnavailable")
    fleet.router.set_pool(queue=0.5 * (i % 3), kv_cache=0.1 + 0.02 * (i % 5), ready=1)
    fleet.router.set_flow_queue(i % 2, "chat-a", "chat-a", fairness_id="team-search")


def _config() -> InferwatchConfig:
    base = load_config(REPO_ROOT / "examples" / "inferwatch.yaml")
    # Cost rules every 10 s (their minimum) so the chain of cost levels fills within the test; the
    # SLOs judge vLLM and SGLang pods, whose TTFT buckets share 2.5 s (see SGLANG_TTFT).
    config = base.model_copy(
        update={
            "pricing": base.pricing.model_copy(update={"rule_interval_s": 10}),
            "engines": ["vllm", "sglang"],
            "buckets": HistogramBuckets(sglang=SglangBuckets(ttft=list(SGLANG_TTFT))),
        }
    )
    assert edge_problems(config) == []
    return config


def _backfill(tools: Toolbox, workdir: Path, config: InferwatchConfig, until: datetime) -> Path:
    hist = BackfilledPrometheus(tools, workdir)
    end = until.timestamp() - 60
    start = end - HOURS * 3600
    hist.add_raw([*slo_series(config, start, end), *cost_series(config, start, end)])
    return hist.data_dir


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_dashboard_previews_without_an_empty_panel(
    tmp_path: Path,
    tools: Toolbox,
    inference_sim_factory: Starter,
    prometheus_factory: Starter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config()
    started = datetime.now(UTC)
    data_dir = _backfill(tools, tmp_path / "history", config, started)
    # The simulator's KV cache (which counts prefix-cache hits) wants the pod's IP, as in a pod.
    monkeypatch.setenv("POD_IP", "127.0.0.1")
    sims = {
        ns: inference_sim_factory(
            tmp_path / ns,
            model=model,
            extra_args=["--time-to-first-token", "150ms", "--inter-token-latency", "15ms", "--enable-kvcache"],
        )
        for ns, (model, _) in TEAMS.items()
    }
    rules = []
    for art in generate_all(config):
        if art.kind is ArtifactKind.PROMETHEUS_RULES:
            path = tmp_path / "rules" / Path(art.path).name
            path.parent.mkdir(exist_ok=True)
            path.write_text(art.content)
            rules.append(str(path))
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        targets = []
        engines: dict[str, EngineFamilies] = {}
        fleet = Fleet(engines, SglangMetrics(SGLANG[1], ttft_buckets=SGLANG_TTFT), RouterMetrics(POOL))
        stack.enter_context(serving(fleet.sglang))
        stack.enter_context(serving(fleet.router))
        sglang_env = {
            "INFERWATCH_EXPORTER__POD_NAMESPACE": SGLANG[0],
            "INFERWATCH_EXPORTER__POD_NAME": SGLANG[2],
            "INFERWATCH_EXPORTER__CONTAINER_NAME": "sglang",
            "INFERWATCH_EXPORTER__VLLM_SCRAPE_INTERVAL_S": "1",
        }
        sglang_args = ["--gpu-backend", "simulated", "--vllm-url", f"http://{fleet.sglang.address}/metrics",
                       "--gpu-uuid", GPUS[2]]  # fmt: skip
        exp = stack.enter_context(exporter_process(tmp_path / "exp-sglang", sglang_args, sglang_env))
        targets.append(
            ScrapeTarget("sglang-sidecar", exp.url.removeprefix("http://"), {"namespace": SGLANG[0], "pod": SGLANG[2]})
        )
        targets.append(ScrapeTarget("llm-d-epp", fleet.router.address, {"namespace": "team-a", "pod": f"{POOL}-epp-0"}))
        for ns, (model, pod) in TEAMS.items():
            env = {
                "INFERWATCH_EXPORTER__POD_NAMESPACE": ns,
                "INFERWATCH_EXPORTER__POD_NAME": pod,
                "INFERWATCH_EXPORTER__CONTAINER_NAME": "vllm",
                "INFERWATCH_EXPORTER__VLLM_SCRAPE_INTERVAL_S": "1",
            }
            gpu = GPUS[0] if ns == "team-a" else GPUS[1]
            args = ["--gpu-backend", "simulated", "--vllm-url", sims[ns].url + "/metrics", "--gpu-uuid", gpu]
            exp = stack.enter_context(exporter_process(tmp_path / f"exp-{ns}", args, env))
            targets.append(ScrapeTarget("vllm-sidecar", exp.url.removeprefix("http://"), {"namespace": ns, "pod": pod}))
            engines[model] = stack.enter_context(engine_families(model))
            targets.append(ScrapeTarget("vllm-engine-counters", engines[model].address, {"namespace": ns, "pod": pod}))
        ds_address, nvml = stack.enter_context(daemonset_exporter(tmp_path / "ds", monkeypatch))
        targets.append(ScrapeTarget("inferwatch-daemonset", ds_address, {"node": NODE}))
        prom_config = render(
            LocalStack(targets=tuple(targets), rule_files=tuple(rules), scrape_interval="1s", evaluation_interval="1s")
        )
        for job in prom_config["scrape_configs"]:  # type: ignore[union-attr]
            job["honor_labels"] = True  # exporters name the pods they attribute GPUs to
        (tmp_path / "prometheus.yml").write_text(dump_yaml(prom_config))
        prom = prometheus_factory(tmp_path / "prometheus.yml", tmp_path / "prom", storage=data_dir)
        reader = PrometheusReader(PrometheusSettings(url=prom.url))

        worker = threading.Thread(
            target=_traffic,
            args=({m: sims[ns].url for ns, (m, _) in TEAMS.items()}, fleet, stop),
            daemon=True,
        )
        worker.start()
        stack.callback(worker.join, 30)
        stack.callback(stop.set)
        # Trigger what some panels wait for: an Xid and a double-bit ECC error, once Prometheus has
        # seen the GPUs without them (an error counter's first sample is its first event).
        wait_for(lambda: bool(reader.query("inferwatch:gpu_up")), "the GPUs in Prometheus", timeout=60)
        nvml.raise_xid(2, 13)
        nvml.raise_ecc(1, double_bit=True)

        def ready(expr: str) -> bool:
            return bool(reader.query(expr))

        for expr in (
            "inferwatch:vllm_ttft_seconds_count:rate5m > 0",
            "inferwatch:vllm_prefix_cache_queries:rate5m > 0",
            "inferwatch:vllm_preemptions:rate5m > 0",
            "inferwatch:vllm_tpot_seconds_count:rate5m > 0",
            "inferwatch:gpu_xid_errors:increase5m > 0",
            "inferwatch:gpu_mig_info",
            'inferwatch:vllm_ttft_seconds_count:rate5m{namespace="team-c"} > 0',
            'inferwatch:vllm_prefix_cache_hits:rate5m{namespace="team-c"} > 0',
            "inferwatch:router_requests:rate5m > 0",
            "inferwatch:router_shed_requests:rate5m > 0",
            "inferwatch:router_request_errors:rate5m > 0",
            "inferwatch:router_scheduler_seconds_count:rate5m > 0",
            "inferwatch:slo_alert:state",
            "inferwatch:cost_per_million_tokens:usage",
            "inferwatch:cost_gpu_idle:rate",
        ):
            wait_for(lambda e=expr: ready(e), f"{expr} in Prometheus", timeout=150, interval=2)

        # A minute and a half of traffic, so the live panels show more than a sliver.
        time.sleep(LIVE_SECONDS)
        end = datetime.now(UTC)
        out = tmp_path / "preview"
        live = render_previews(
            prom.url, out, end - timedelta(minutes=LIVE_MINUTES), end, config=config, scrape_interval_s=1.0,
            only=("inferwatch-inference", "inferwatch-gpu-fleet"),
        )  # fmt: skip
        history = render_previews(
            prom.url, out / "history", end - timedelta(hours=HOURS), end, config=config, scrape_interval_s=1.0,
            only=("inferwatch-slos", "inferwatch-cost"),
        )  # fmt: skip
        # A threshold counts only at a boundary every pod's histogram has: vLLM's 0.25 s and SGLang's
        # 0.2 s are not, the 2.5 s both have (SGLANG_TTFT) is.
        ttft_boundaries = scraped_boundaries(reader, "ttft")
        assert 2.5 in ttft_boundaries and 0.25 not in ttft_boundaries and 0.2 not in ttft_boundaries
    result = PreviewResult(out, live.index, live.start, live.end, live.dashboards + history.dashboards)
    assert live.index.is_file() and "inferwatch / GPU fleet" in live.index.read_text()
    assert [d.uid for d in result.dashboards] == [
        "inferwatch-inference",
        "inferwatch-gpu-fleet",
        "inferwatch-slos",
        "inferwatch-cost",
    ]
    for d in result.dashboards:
        assert d.png.stat().st_size > 50_000, d.png
    empty = {uid: [str(e) for e in panels] for uid, panels in result.empty_panels().items() if panels}
    assert not empty, empty
    assert result.unexpected_empty() == []

    def last(uid: str, title: str) -> dict[str, float]:
        d = next(x for x in result.dashboards if x.uid == uid).panel(title)
        return {s.legend: s.points[-1][1] for s in d.series}

    # Four GPUs, all held (GPU 2 by time-slicing, GPU 3 through a MIG slice); GPU 2 is idle; none lost.
    fleet = "inferwatch-gpu-fleet"
    assert [last(fleet, t) for t in ("GPUs", "GPUs allocated", "Allocated but idle", "GPUs lost")] == [
        {"GPUs": 4},
        {"allocated": 4},
        {"idle": 1},
        {"lost": 0},
    ]
    table = next(x for x in result.dashboards if x.uid == fleet).panel("GPU → node / pod / namespace")
    shares = {(s.labels["gpu_uuid"], s.labels["pod"]): round(s.points[-1][1], 3) for s in table.series}
    assert shares == {
        (GPUS[0], "a-0"): 1.0,
        (GPUS[1], "b-0"): 1.0,
        (GPUS[2], "a-0"): 0.25,
        (GPUS[2], "b-0"): 0.25,
        (GPUS[2], "c-0"): 0.25,
        (GPUS[3], "b-0"): round(3 / 7, 3),
    }
    assert {s.labels["node"] for s in table.series} == {NODE}
    # The simulator's 150 ms to first token, under the 2 s line the TTFT page uses.
    ttft = last("inferwatch-inference", "Time to first token")
    assert 0.1 < ttft["P50"] < 0.5 and ttft["P95"] < config.thresholds.ttft_p95_seconds
    _assert_engines_and_routing(result)
    # team-b spent more than its TTFT budget in the backfilled hours.
    budget = {
        (s.labels["slo"], s.labels["namespace"]): s.points[-1][1]
        for s in next(x for x in result.dashboards if x.uid == "inferwatch-slos").panel("Every SLO").series
    }
    assert budget[("chat-ttft", "team-b")] < 0 < budget[("chat-ttft", "team-a")]
    # Spend over the range integrates the recorded cost rate: held GPUs x H100 price x 3 h.
    price = config.pricing.gpu_hour[H100]
    spend = last("inferwatch-cost", "Spend in range (USD)")["spend"]
    assert spend == pytest.approx(sum(HELD.values()) * price * HOURS, rel=0.05)


def _assert_engines_and_routing(result: PreviewResult) -> None:
    """The SGLang pod in the engine panels, what it does not report said, and the router's row."""
    inference = next(x for x in result.dashboards if x.uid == "inferwatch-inference")
    engines = {
        (s.labels["namespace"], s.labels["model_name"], s.labels["serving_engine"]): s.labels[NOT_REPORTED_LABEL]
        for s in inference.panel("Serving engines").series
    }
    assert engines[(SGLANG[0], SGLANG[1], "sglang")].startswith("prefill time, decode time")
    assert engines[("team-a", "chat-a", "vllm")] == engines[("team-b", "chat-b", "vllm")] == "nothing inferwatch reads"
    legends = {s.legend for s in inference.panel("Queue, prefill and decode time (mean)").series}
    assert f"prefill and decode: not reported by this engine (sglang {SGLANG[0]}/{SGLANG[1]})" in legends
    tokens = {s.legend for s in inference.panel("Input and output tokens/s").series}
    assert {f"input {SGLANG[0]}/{SGLANG[1]}", f"output {SGLANG[0]}/{SGLANG[1]}"} <= tokens
    routed = {s.legend for s in inference.panel("Routed requests/s by pool and model").series}
    assert {f"{POOL}: chat-a → chat-a", f"{POOL}: chat-a → {ADAPTER}"} <= routed
    shed = inference.panel("Shed by the router").series
    assert [s.legend for s in shed] == [f"team-a/{POOL}"] and 0 < shed[0].points[-1][1] < 0.2
