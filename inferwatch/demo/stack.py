"""The demo's stack on loopback: simulators, exporters, a local kubelet, Prometheus, Alertmanager, a pager.

`Stack` starts the parts in dependency order and stops every one of them (also when start-up
fails half-way, or on Ctrl-C). Prometheus runs on the generated scrape configuration
(inferwatch.prometheus_config) and every generated rule file, Alertmanager on the generated
routing (inferwatch.alerts.alertmanager) with its receivers pointed at the local pager; all are
generated from the demo's configuration (demo.yaml) by the same generators `inferwatch build` runs.
The two vLLM families the simulator lacks are served per rank by the load generator's measurements
(engine_families.py), as extra targets labelled like that rank's sidecar.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.alerts.alertmanager import Receivers, render_alertmanager_config
from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import ArtifactKind
from inferwatch.config import InferwatchConfig, PrometheusSettings
from inferwatch.demo.config import DemoSettings
from inferwatch.demo.engine_families import MEASURED_FAMILIES, EngineFamilies
from inferwatch.demo.history import HistoryPlan, ScrapedTarget, build_tsdb, history_start, raw_series
from inferwatch.demo.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.demo.processes import (
    ComponentFailedError,
    ManagedProcess,
    OutputNotWritableError,
    ProcessGroup,
    check_port_free,
    http_ok,
    wait_until,
)
from inferwatch.demo.receiver import WebhookReceiver
from inferwatch.demo.scenario import (
    GPU_COUNT,
    MIG_GPU,
    MIG_SLICES,
    NODE,
    TIME_SLICE_REPLICAS,
    TIME_SLICED_GPU,
    Model,
    Scenario,
    gpu_uuid,
    mig_uuid,
)
from inferwatch.demo.traffic import Endpoint
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.prom import PrometheusReader
from inferwatch.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.rules import RecordingRule, RuleFile
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)

REQUIRED_TOOLS = ("prometheus", "promtool", "alertmanager", "llm-d-inference-sim")
HISTORY_RAW_STEP_S = 120.0
RETENTION = "30d"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SimTarget:
    """One llm-d-inference-sim rank and the sidecar exporter in front of it."""

    model: Model
    rank: int
    sim_port: int
    sidecar_port: int
    families: EngineFamilies

    @property
    def sim_url(self) -> str:
        """Base URL of the simulator rank (OpenAI API and /metrics)."""
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def sidecar_url(self) -> str:
        """Base URL of the sidecar exporter."""
        return f"http://127.0.0.1:{self.sidecar_port}"

    def _labels(self) -> dict[str, str]:
        labels = {"namespace": self.model.namespace, "pod": self.model.pod, "container": "inferwatch"}
        if self.model.data_parallel > 1:
            # vLLM labels data-parallel ranks `engine`; one simulator process per rank gets it as a target label.
            labels["engine"] = str(self.rank)
        return labels

    def scrape_target(self) -> ScrapeTarget:
        """What Prometheus scrapes: the sidecar, labelled like the pod's Kubernetes discovery would."""
        return ScrapeTarget("inferwatch-sidecar", f"127.0.0.1:{self.sidecar_port}", self._labels())

    def families_target(self) -> ScrapeTarget:
        """The rank's measured vLLM families, labelled like its sidecar (so normalized like its pass-through)."""
        return ScrapeTarget("inferwatch-load-generator", self.families.address, self._labels())


@dataclass
class Stack:
    """Every process and server of the demo, started in order and always stopped."""

    settings: DemoSettings
    config: InferwatchConfig
    scenario: Scenario
    tools: Toolbox
    out_dir: Path
    group: ProcessGroup = field(init=False)
    kubelet: PodResourcesServer | None = field(default=None, init=False)
    receiver: WebhookReceiver | None = field(default=None, init=False)
    prometheus: ManagedProcess | None = field(default=None, init=False)
    alertmanager: ManagedProcess | None = field(default=None, init=False)
    history_samples: int = field(default=0, init=False)
    history_span: tuple[datetime, datetime] | None = field(default=None, init=False)
    _kubelet_dir: Path | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.work_dir = self.out_dir / "stack"
        self.group = ProcessGroup(self.work_dir / "logs")
        ports = self.settings.ports
        sims: list[SimTarget] = []
        for i, m in enumerate(self.scenario.models):
            for rank in range(m.data_parallel):
                n = len(sims)
                families = EngineFamilies({"model_name": m.model}, ports.engine_families(n))
                sims.append(SimTarget(m, rank, ports.sim(i) + rank, ports.sidecar(n), families))
        self.sims = tuple(sims)

    # ----- addresses ---------------------------------------------------------------------------
    @property
    def prometheus_url(self) -> str:
        """Prometheus's HTTP API."""
        return f"http://127.0.0.1:{self.settings.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        """Alertmanager's HTTP API."""
        return f"http://127.0.0.1:{self.settings.ports.alertmanager}"

    @property
    def node_exporter_url(self) -> str:
        """The DaemonSet-mode exporter."""
        return f"http://127.0.0.1:{self.settings.ports.node_exporter}"

    @property
    def kubelet_socket(self) -> Path:
        """The local kubelet's pod-resources socket, in a short temporary folder (unix socket paths are short)."""
        if self._kubelet_dir is None:
            self._kubelet_dir = Path(tempfile.mkdtemp(prefix="inferwatch-kubelet-"))
        return self._kubelet_dir / "kubelet.sock"

    def endpoints(self) -> list[Endpoint]:
        """Where the load generator sends each model's requests."""
        return [
            Endpoint(
                m,
                tuple(s.sim_url for s in self.sims if s.model is m),
                tuple(s.families for s in self.sims if s.model is m),
            )
            for m in self.scenario.models
        ]

    def scrape_targets(self) -> list[ScrapeTarget]:
        """Every target Prometheus scrapes: the backfilled ones and the load generator's measured families."""
        return [*self.history_targets(), *(s.families_target() for s in self.sims)]

    def history_targets(self) -> list[ScrapeTarget]:
        """The targets the history continues: every sidecar and the DaemonSet exporter (the measured
        families start with live traffic)."""
        node = ScrapeTarget(
            "inferwatch-node",
            f"127.0.0.1:{self.settings.ports.node_exporter}",
            # No namespace/pod target labels: the exporter's allocation series carry the namespace and
            # pod that hold each GPU, and target labels of the same name would rename them exported_*.
            {"node": NODE},
        )
        return [*(s.scrape_target() for s in self.sims), node]

    # ----- start-up ------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Fail before starting anything: a missing tool, a taken port, an unwritable output folder."""
        for tool in REQUIRED_TOOLS:
            self.tools.path(tool)
        ports = self.settings.ports
        check_port_free(ports.prometheus, "Prometheus")
        check_port_free(ports.alertmanager, "Alertmanager")
        check_port_free(ports.receiver, "the webhook receiver")
        check_port_free(ports.prometheus + 3, "the history's helper Prometheus")
        check_port_free(ports.node_exporter, "the DaemonSet exporter")
        for s in self.sims:
            check_port_free(s.sim_port, f"llm-d-inference-sim {s.model.pod} rank {s.rank}")
            check_port_free(s.sidecar_port, f"the sidecar exporter of {s.model.pod} rank {s.rank}")
            check_port_free(
                self.settings.ports.engine_families(self.sims.index(s)),
                f"the load generator's vLLM families of {s.model.pod} rank {s.rank}",
            )
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".inferwatch-demo-write-test"
            probe.write_text("ok")
            probe.unlink()
            if self.work_dir.exists():
                shutil.rmtree(self.work_dir)
            self.work_dir.mkdir(parents=True)
        except OSError as err:
            raise OutputNotWritableError(
                f"output folder {self.out_dir} is not writable ({err.strerror or err}); pick another with --out"
            ) from None

    def start_models(self, progress: Progress) -> None:
        """Simulators, sidecars, the local kubelet and the DaemonSet exporter, each ready when this returns."""
        started: list[tuple[SimTarget, ManagedProcess]] = []
        for m in self.scenario.models:
            progress(f"starting llm-d-inference-sim for {m.namespace}/{m.pod} ({m.model}, {m.data_parallel} rank(s))")
            ranks = [s for s in self.sims if s.model is m]
            mp = self.group.spawn(f"sim-{m.pod}", self._sim_argv(m, ranks[0]), ranks[0].sim_url)
            started += [(rank, mp) for rank in ranks]
        for target, mp in started:
            wait_until(mp, http_ok(target.sim_url + "/v1/models"), "OpenAI API answers", timeout=60)
        for target, _ in started:
            progress(f"starting the sidecar exporter of {target.model.pod} rank {target.rank} (simulated GPUs)")
            argv = [
                sys.executable, "-m", "inferwatch.demo.gpus", "--mode", "sidecar", "--port", str(target.sidecar_port),
                "--vllm-url", target.sim_url + "/metrics", "--vllm-scrape-interval", "5",
                *[a for i in target.model.gpus for a in ("--gpu-uuid", gpu_uuid(i))],
            ]  # fmt: skip
            mp = self.group.spawn(f"sidecar-{target.model.pod}-rank{target.rank}", argv, target.sidecar_url)
            wait_until(mp, http_ok(target.sidecar_url + "/readyz"), "/readyz answers 200", timeout=60)
        progress(
            f"llm-d-inference-sim lacks {' and '.join(MEASURED_FAMILIES)}: the load generator measures them "
            "from each answer and serves them per rank under vLLM's names"
        )
        for target, _ in started:
            target.families.start()
        progress("starting the local kubelet (pod-resources gRPC on a unix socket)")
        self.kubelet = PodResourcesServer(self.kubelet_socket, self.node_allocation())
        progress("starting the DaemonSet exporter of gpu-node-1 (simulated GPUs)")
        argv = [
            sys.executable, "-m", "inferwatch.demo.gpus", "--mode", "daemonset",
            "--port", str(self.settings.ports.node_exporter), "--pod-resources-socket", str(self.kubelet_socket),
        ]  # fmt: skip
        mp = self.group.spawn("node-exporter", argv, self.node_exporter_url)
        wait_until(mp, http_ok(self.node_exporter_url + "/readyz"), "/readyz answers 200", timeout=60)
        wait_until(mp, self._node_attributes, "GPU allocations from the local kubelet", timeout=30)

    def _sim_argv(self, m: Model, target: SimTarget) -> list[str]:
        argv = [
            str(self.tools.path("llm-d-inference-sim")),
            "--port", str(target.sim_port),
            "--model", m.model,
            "--mode", "random",
            "--force-dummy-tokenizer",
            "--max-model-len", "32768",
            "--max-num-seqs", "256",
            # A zero time to first token lets the simulator derive it from the prompt: overhead + per token.
            "--time-to-first-token", "0",
            "--prefill-overhead", f"{round(m.prefill_overhead_s * 1000)}ms",
            "--prefill-time-per-token", f"{m.prefill_s_per_token * 1e6:.0f}us",
            "--inter-token-latency", f"{round(m.itl_s * 1000)}ms",
        ]  # fmt: skip
        if m.data_parallel > 1:
            argv += ["--data-parallel-size", str(m.data_parallel)]
        if m.lora:
            argv += ["--max-loras", str(len(m.lora))]
            argv += ["--lora-modules", *[json.dumps({"name": name, "path": f"/adapters/{name}"}) for name in m.lora]]
        return argv

    def _node_attributes(self) -> bool:
        text = httpx.get(self.node_exporter_url + "/metrics", timeout=5).text
        return "inferwatch_gpu_allocation_ratio{" in text and "inferwatch_podresources_up 1" in text

    def node_allocation(self) -> NodeAllocation:
        """What the local kubelet says: the scenario's holdings, every GPU, replica and MIG instance allocatable."""
        assignments = tuple(
            ContainerDevices(h.namespace, h.pod, h.container, GPU_RESOURCE, h.device_ids)
            for h in self.scenario.holdings
        )
        allocatable: list[str] = []
        for i in range(GPU_COUNT):
            if i == TIME_SLICED_GPU:
                allocatable += [f"{gpu_uuid(i)}::{r}" for r in range(TIME_SLICE_REPLICAS)]
            elif i == MIG_GPU:
                allocatable += [mig_uuid(i, k) for k in range(len(MIG_SLICES))]
            else:
                allocatable.append(gpu_uuid(i))
        return NodeAllocation(assignments, {GPU_RESOURCE: tuple(allocatable)})

    def warm_up(self) -> None:
        """One request per model, rank and adapter, so every vLLM series exists before it is read for history."""
        for ep in self.endpoints():
            for url in ep.rank_urls:
                for name in (ep.model.model, *ep.model.lora):
                    body = {
                        "model": name,
                        "prompt": "hello there",
                        "max_tokens": ep.model.output_tokens,
                        "ignore_eos": True,
                    }
                    resp = httpx.post(url + "/v1/completions", json=body, timeout=30)
                    if resp.status_code != 200:
                        raise ComponentFailedError(
                            f"llm-d-inference-sim at {url} refused a completion for {name}: "
                            f"HTTP {resp.status_code} {resp.text[:300]}"
                        )

    def wait_for_vllm_series(self) -> None:
        """Wait until every sidecar re-exposes its simulator's request series (it scrapes vLLM every few seconds)."""
        for s in self.sims:
            mp = next(p for p in self.group.processes if p.url == s.sidecar_url)

            def served(url: str = s.sidecar_url) -> bool:
                return "vllm:time_to_first_token_seconds_count{" in httpx.get(url + "/metrics", timeout=5).text

            wait_until(mp, served, "the simulator's request series re-exposed", timeout=60)

    def scrape_live(self) -> list[ScrapedTarget]:
        """Every target's current /metrics, parsed: the label sets the history must continue."""
        out = []
        for target in self.history_targets():
            text = httpx.get(f"http://{target.address}/metrics", timeout=10).text
            samples: dict[str, list[tuple[dict[str, str], float]]] = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
            labels = {**target.labels, "job": target.job, "instance": target.address}
            out.append(ScrapedTarget(labels, samples))
        return out

    # ----- history -----------------------------------------------------------------------------------
    def rule_files(self) -> dict[str, str]:
        """Every generated rule file for the demo config, by file name."""
        return {
            Path(a.path).name: a.content for a in generate_all(self.config) if a.kind == ArtifactKind.PROMETHEUS_RULES
        }

    def history_plan(self, now: datetime) -> HistoryPlan:
        """The history to backfill: normalization, SLO events and the cost levels, over the last full week and on."""
        from inferwatch.alerts.generate import rule_files as alert_rule_files
        from inferwatch.demo.history import referenced_records
        from inferwatch.slo.cost.rules import cost_groups
        from inferwatch.slo.loader import slos_from_specs
        from inferwatch.slo.rules import hourly_rules, sli_rules, window_sum_rules
        from inferwatch.slo.windows import COARSE_STEP

        week = IsoWeek.last_full(now)
        start = history_start(now, week.start)
        slos, _ = slos_from_specs(self.config.slos, "demo.yaml")
        slo_events = [r for slo in slos for r in sli_rules(slo)]
        cost = [[r for r in g.rules if isinstance(r, RecordingRule)] for g in cost_groups(self.config.pricing)]
        normalize: RuleFile = alert_rule_files(self.config)["normalize"]
        norm_rules = [r for g in normalize.groups for r in g.rules if isinstance(r, RecordingRule)]
        downstream = [r.expr for r in slo_events] + [r.expr for level in cost for r in level]
        needed = referenced_records(downstream, [r.record for r in norm_rules])
        eval_s = float(self.settings.evaluation_interval_s)
        cost_s = float(self.config.pricing.rule_interval_s)
        # The SLO's hourly group sums each hour's events; its long windows (a day and more, the
        # SLO window too) read those sums, so they are backfilled after the events, on the hour.
        # The window sums (the same group, evaluated after them) add those hourly sums up per window.
        hour_s = COARSE_STEP.total_seconds()
        hourly = [(r, hour_s) for slo in slos for r in hourly_rules(slo)]
        window_sums = [(r, hour_s) for slo in slos for r in window_sum_rules(slo)]
        passes = (
            tuple((r, HISTORY_RAW_STEP_S) for r in norm_rules if r.record in needed),
            tuple([(r, eval_s) for r in slo_events] + [(r, cost_s) for r in cost[0]]),
            tuple(hourly + [(r, cost_s) for r in cost[1]]),
            tuple(window_sums + [(r, cost_s) for r in cost[2]]),
            *(tuple((r, cost_s) for r in level) for level in cost[3:]),
        )
        return HistoryPlan(start=start, end=now, raw_step_s=HISTORY_RAW_STEP_S, passes=passes)

    def build_history(self, progress: Progress) -> None:
        """Backfill the week (and the SLO window) of these very targets into the live Prometheus's TSDB."""
        self.warm_up()
        self.wait_for_vllm_series()
        now = datetime.now(UTC).replace(microsecond=0)
        plan = self.history_plan(now)
        progress(f"backfilling history {plan.start:%Y-%m-%d %H:%M} to {plan.end:%Y-%m-%d %H:%M} UTC")
        raw = raw_series(self.scenario, self.scrape_live(), plan.start, plan.end, plan.raw_step_s)
        helper_config = self.work_dir / "history-prometheus.yml"
        helper_config.write_text(render_yaml(LocalStack(targets=())))
        helper_port = self.settings.ports.prometheus + 3

        def start_helper(data_dir: Path) -> str:
            url = f"http://127.0.0.1:{helper_port}"
            mp = self.group.spawn(
                "history-prometheus", self._prometheus_argv(helper_config, data_dir, helper_port), url
            )
            wait_until(mp, http_ok(url + "/-/ready"), "/-/ready answers 200", timeout=120)
            return url

        self.history_samples = build_tsdb(
            plan,
            raw,
            self.work_dir / "history",
            self.work_dir / "tsdb",
            self.tools,
            start_helper,
            lambda: self.group.stop("history-prometheus"),
            lambda url: PrometheusReader(PrometheusSettings(url=url, timeout_s=120, retries=1)),
            progress,
        )
        self.history_span = (plan.start, plan.end)

    # ----- monitoring ------------------------------------------------------------------------------
    def _prometheus_argv(self, config_file: Path, data_dir: Path, port: int) -> list[str]:
        return [
            str(self.tools.path("prometheus")),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]

    def start_monitoring(self, progress: Progress) -> None:
        """The pager, Alertmanager (generated routing) and Prometheus (generated config and rules)."""
        ports = self.settings.ports
        progress("starting the webhook receiver (the pager)")
        (self.out_dir / "pages.jsonl").unlink(missing_ok=True)
        self.receiver = WebhookReceiver(ports.receiver, self.out_dir / "pages.jsonl")
        self.receiver.start()
        progress("starting Alertmanager with the generated routing")
        am_config = self.work_dir / "alertmanager.yml"
        receivers = Receivers(page_url=f"{self.receiver.url}/page", ticket_url=f"{self.receiver.url}/ticket")
        am_config.write_text(render_alertmanager_config(receivers))
        self.alertmanager = self.group.spawn(
            "alertmanager",
            [
                str(self.tools.path("alertmanager")),
                f"--config.file={am_config}",
                f"--storage.path={self.work_dir / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{ports.alertmanager}",
                "--cluster.listen-address=",
            ],
            self.alertmanager_url,
        )
        wait_until(self.alertmanager, http_ok(self.alertmanager_url + "/-/ready"), "/-/ready answers 200")
        progress("starting Prometheus 3 with the generated scrape config and rule files")
        rules_dir = self.work_dir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        for name, content in self.rule_files().items():
            (rules_dir / name).write_text(content)
        stack = LocalStack(
            targets=tuple(self.scrape_targets()),
            rule_files=("rules/*.yaml",),
            alertmanagers=(f"127.0.0.1:{ports.alertmanager}",),
            scrape_interval=f"{self.settings.scrape_interval_s}s",
            evaluation_interval=f"{self.settings.evaluation_interval_s}s",
        )
        prom_config = self.work_dir / "prometheus.yml"
        prom_config.write_text(render_yaml(stack))
        self.prometheus = self.group.spawn(
            "prometheus", self._prometheus_argv(prom_config, self.work_dir / "tsdb", ports.prometheus),
            self.prometheus_url, cwd=self.work_dir,
        )  # fmt: skip
        wait_until(self.prometheus, http_ok(self.prometheus_url + "/-/ready"), "/-/ready answers 200", timeout=180)

    def targets_health(self) -> list[tuple[str, str, str]]:
        """(job, instance, health) of every active target, from Prometheus's API."""
        data = httpx.get(self.prometheus_url + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return [(t["labels"].get("job", ""), t["labels"].get("instance", ""), t["health"]) for t in data]

    def check_alive(self) -> None:
        """Raise ComponentFailedError when a process of the stack died on its own."""
        dead = self.group.exited()
        if dead:
            mp = dead[0]
            raise ComponentFailedError(
                f"{mp.name} exited with status {mp.proc.returncode}; its log ({mp.log_path}) ends:\n{mp.log_tail()}"
            )

    # ----- shut-down ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process and server the stack started (safe to call more than once)."""
        self.group.stop_all()
        for s in self.sims:
            s.families.stop()
        if self.kubelet is not None:
            self.kubelet.stop()
            self.kubelet = None
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self._kubelet_dir is not None:
            shutil.rmtree(self._kubelet_dir, ignore_errors=True)
            self._kubelet_dir = None


def wait_seconds(seconds: float, tick: Callable[[], None], interval: float = 1.0) -> None:
    """Sleep ``seconds`` in steps of ``interval``, calling ``tick`` after each (the view, liveness checks)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(interval, max(0.0, end - time.monotonic())))
        tick()
