"""Measuring a rule set live: on a real Prometheus 3 over the backfilled fleet, and on VictoriaMetrics + vmalert.

Prometheus: started over the TSDB with only the set's rule files (no rules for the baseline),
every group evaluated every ``interval``; its own /metrics is read every few seconds for
``settle`` seconds: `prometheus_rule_group_last_duration_seconds` per group (the median over the
distinct evaluations seen), `prometheus_rule_group_last_evaluation_samples`,
`prometheus_rule_group_iterations_missed_total`, the process's CPU seconds (from the first
evaluation round on), `process_resident_memory_bytes` and `go_memstats_heap_inuse_bytes`, and
`prometheus_tsdb_head_series` — the raw history lies in blocks, so the head holds exactly the
series the rules recorded (and `ALERTS`/`ALERTS_FOR_STATE`).

vmalert: started against a VictoriaMetrics holding the same history (imported through
`/api/v1/import/prometheus`), writing its results back by remote write; per group the mean of
`vmalert_iteration_duration_seconds` over the settle, and CPU and memory of both processes (in
VictoriaMetrics the queries run in the storage, so its CPU is part of the rules' cost).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.fleet_rules import LoadedSet
from inferwatch.localstack.launchers import loopback, start_prometheus
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, http_ok, wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render
from inferwatch.tools import Toolbox

POLL_S = 5.0
Tick = Callable[[str], None]


@dataclass
class GroupFigures:
    """One group's figures: evaluation time (median ms), series recorded per evaluation, evaluations seen."""

    name: str
    eval_ms: float
    series: int
    evaluations: int
    missed: int = 0
    production_interval_s: float = 60.0
    samples_scanned: int = 0  # Prometheus: totalQueryableSamples of its rules' expressions at the end

    @property
    def ms_per_minute(self) -> float:
        """Evaluation time per minute at the group's production interval."""
        return self.eval_ms * 60.0 / self.production_interval_s


@dataclass
class RunFigures:
    """One rule set on one backend."""

    backend: str
    rule_set: str
    groups: list[GroupFigures] = field(default_factory=list)
    cpu_s_per_min: float = 0.0  # the process(es)' CPU seconds per minute of the settle
    rss_bytes: float = 0.0  # peak resident memory (sum over the processes)
    heap_bytes: float = 0.0  # Go heap in use at the end (sum)
    head_series: int = 0  # Prometheus: series in the head (what the rules recorded)
    load_1m: float = 0.0

    @property
    def eval_ms(self) -> float:
        """Evaluation time of every group once."""
        return sum(g.eval_ms for g in self.groups)

    @property
    def ms_per_minute(self) -> float:
        """Evaluation time per minute, each group at its production interval."""
        return sum(g.ms_per_minute for g in self.groups)

    @property
    def samples_scanned(self) -> int:
        """Samples every group's rules read once (Prometheus; 0 where not measured)."""
        return sum(g.samples_scanned for g in self.groups)

    @property
    def series(self) -> int:
        """Series recorded (or alert samples) per evaluation of every group."""
        return sum(g.series for g in self.groups)


class LiveTarget:
    """The fleet's present samples as a scrape target: ``live_dir/<k>.prom`` while ``times[k]`` is the latest past.

    One target stands for every pod's sidecar, every node's DaemonSet exporter and
    kube-state-metrics (the series carry their own `job`, `instance` and Kubernetes labels, scraped
    with `honor_labels: true`), so Prometheus ingests the whole fleet into its head as it would.
    """

    def __init__(self, live_dir: Path, times: npt.NDArray[np.int64], live_from: int) -> None:
        """Serve ``live_dir`` on a free loopback port until ``close``."""
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = target.current().read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """No access log."""

        self.live_dir, self.times, self.live_from = live_dir, times, live_from
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def current(self) -> Path:
        """The exposition of the latest sample time not after now."""
        k = int(np.searchsorted(self.times, time.time(), side="right")) - 1
        return self.live_dir / f"{min(max(k, self.live_from), len(self.times) - 1)}.prom"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def prometheus_config(rules: LoadedSet | None, interval: str, target: LiveTarget, step_s: int) -> str:
    """Prometheus's configuration: the fleet scraped every sample step, ``rules`` evaluated every ``interval``."""
    stack = LocalStack(targets=(ScrapeTarget("fleet", target.address, honor_labels=True),),
                       rule_files=tuple(str(p) for p in rules.files) if rules else (),
                       scrape_interval=f"{step_s}s", evaluation_interval=interval)  # fmt: skip
    config = render(stack)
    config["global"]["scrape_timeout"] = f"{max(step_s - 5, 5)}s"  # type: ignore[index]
    return yaml.safe_dump(config, sort_keys=False)


def _scrape(client: httpx.Client, url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(client.get(url + "/metrics").text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _value(m: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(v for _, v in m.get(name, []))


def _scraped(client: httpx.Client, url: str) -> bool:
    """Whether Prometheus has scraped every target since it started (the history holds `up` too, so
    a query would not tell: the targets API's health is "unknown" until a target's first scrape)."""
    targets = client.get(url + "/api/v1/targets", params={"state": "active"}).json()["data"]["activeTargets"]
    return bool(targets) and all(t.get("health") != "unknown" for t in targets)


def samples_scanned(client: httpx.Client, url: str, rules: LoadedSet) -> dict[str, int]:
    """Per group, the samples its rules' expressions read (`totalQueryableSamples` of `/api/v1/query?stats=all`).

    Exact and independent of how busy the machine is, unlike the evaluation times.
    """
    out: dict[str, int] = {}
    for path in rules.files:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            total = 0
            for rule in group.get("rules") or []:
                answer = client.post(url + "/api/v1/query", data={"query": rule["expr"], "stats": "all"}, timeout=300)
                stats = answer.json().get("data", {}).get("stats", {}) if answer.status_code == 200 else {}
                total += int(stats.get("samples", {}).get("totalQueryableSamples", 0))
            out[group["name"]] = total
    return out


def _load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return 0.0


def measure_prometheus(
    tools: Toolbox, work: Path, data_dir: Path, rules: LoadedSet | None, interval: str, settle: float, tick: Tick,
    target: LiveTarget, step_s: int, warmup: float = 0.0,
) -> RunFigures:  # fmt: skip
    """Prometheus over ``data_dir`` scraping ``target``, with ``rules`` (None: no rules), measured for ``settle`` s.

    ``warmup``: seconds of scraping before the measurement (the first run fills the gap between the
    backfilled history's end and the present, so that 5-minute rates are whole again).
    """
    name = rules.name if rules else "no rules"
    config = work / f"prometheus-{name.replace(' ', '-')}.yml"
    config.write_text(prometheus_config(rules, interval, target, step_s))
    figures = RunFigures("Prometheus 3", name)
    with ProcessGroup(work) as group, httpx.Client(timeout=30) as client:
        mp = start_prometheus(group, tools, config, data_dir, name="prometheus", log_path=work / "prometheus.log",
                              timeout=600, extra_args=["--query.max-samples=200000000"])  # fmt: skip
        durations: dict[str, dict[float, float]] = {}
        samples: dict[str, float] = {}
        missed: dict[str, float] = {}
        cpu0: tuple[float, float] | None = None
        until = time.monotonic() + warmup
        while (left := until - time.monotonic()) > 0:
            tick(f"{figures.backend}, {name}: warming up, {left:.0f} s left")
            time.sleep(min(POLL_S, left))
        # the first scrape comes at an offset within the scrape interval: measure from it on (the
        # head alone does not say it: the rules record from the imported history before it)
        first_scrape = time.monotonic() + 2 * step_s + 10
        while not _scraped(client, mp.url) and time.monotonic() < first_scrape:
            tick(f"{figures.backend}, {name}: waiting for the first scrape")
            time.sleep(1)
        end = time.monotonic() + settle
        loads = []
        while True:
            m = _scrape(client, mp.url)
            figures.rss_bytes = max(figures.rss_bytes, _value(m, "process_resident_memory_bytes"))
            loads.append(_load())
            stamps = {
                lb["rule_group"]: v for lb, v in m.get("prometheus_rule_group_last_evaluation_timestamp_seconds", [])
            }
            for lb, v in m.get("prometheus_rule_group_last_duration_seconds", []):
                if stamps.get(lb["rule_group"], 0) > 0:
                    durations.setdefault(lb["rule_group"], {})[stamps[lb["rule_group"]]] = v
            samples.update(
                {lb["rule_group"]: v for lb, v in m.get("prometheus_rule_group_last_evaluation_samples", [])}
            )
            missed.update({lb["rule_group"]: v for lb, v in m.get("prometheus_rule_group_iterations_missed_total", [])})
            if cpu0 is None and (rules is None or (stamps and all(v > 0 for v in stamps.values()))):
                cpu0 = (time.monotonic(), _value(m, "process_cpu_seconds_total"))
            left = end - time.monotonic()
            tick(f"{figures.backend}, {name}: {max(left, 0):.0f} s left, {len(durations)} group(s) evaluated")
            if left <= 0:
                break
            time.sleep(min(POLL_S, left))
        if cpu0 is not None and time.monotonic() > cpu0[0] + 1:
            figures.cpu_s_per_min = (
                (_value(m, "process_cpu_seconds_total") - cpu0[1]) / (time.monotonic() - cpu0[0]) * 60
            )
        figures.heap_bytes = _value(m, "go_memstats_heap_inuse_bytes")
        figures.head_series = int(_value(m, "prometheus_tsdb_head_series"))
        figures.load_1m = statistics.median(loads)
        scanned: dict[str, int] = {}
        if rules is not None:
            tick(f"{figures.backend}, {name}: samples each rule reads")
            scanned = samples_scanned(client, mp.url, rules)
        del mp
    for key, evals in durations.items():
        group_name = key.split(";", 1)[1]
        figures.groups.append(
            GroupFigures(
                group_name,
                statistics.median(evals.values()) * 1000,
                int(samples.get(key, 0)),
                len(evals),
                int(missed.get(key, 0)),
                rules.production_interval_s.get(group_name, 60.0) if rules else 60.0,
                scanned.get(group_name, 0),
            )
        )
    return figures


def _start(group: ProcessGroup, name: str, argv: list[str], port: int, ready: str, work: Path) -> ManagedProcess:
    mp = group.spawn(name, argv, loopback(port), cwd=work, log_path=work / f"{name}.log")
    wait_for(http_ok(mp.url + ready), f"{ready} answers 200", timeout=300, watch=[mp])
    return mp


def start_victoriametrics(group: ProcessGroup, tools: Toolbox, work: Path) -> ManagedProcess:
    """victoria-metrics single-node over ``work/vm-data`` (no response cache, no latency offset)."""
    port = free_port()
    argv = [str(tools.path("victoria-metrics")), f"-storageDataPath={work / 'vm-data'}",
            f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y", "-search.disableCache",
            "-search.latencyOffset=0s", "-search.maxUniqueTimeseries=10000000", "-loggerLevel=WARN"]  # fmt: skip
    return _start(group, "victoria-metrics", argv, port, "/health", work)


def import_victoriametrics(url: str, text_file: Path) -> None:
    """Stream ``text_file`` (Prometheus text, ms timestamps) into VictoriaMetrics and flush it."""
    with text_file.open("rb") as f:
        httpx.post(url + "/api/v1/import/prometheus", content=f, timeout=3600).raise_for_status()
    httpx.get(url + "/internal/force_flush", timeout=600).raise_for_status()


def measure_vmalert(
    tools: Toolbox, work: Path, group: ProcessGroup, vm: ManagedProcess, rules: LoadedSet, interval: str,
    settle: float, tick: Tick,
) -> RunFigures:  # fmt: skip
    """vmalert evaluating ``rules`` against ``vm`` for ``settle`` seconds."""
    port = free_port()
    argv = [str(tools.path("vmalert")), *(f"-rule={f}" for f in rules.files), f"-datasource.url={vm.url}",
            f"-remoteWrite.url={vm.url}", "-notifier.blackhole", f"-httpListenAddr=127.0.0.1:{port}",
            f"-evaluationInterval={interval}", "-loggerLevel=WARN"]  # fmt: skip
    figures = RunFigures("VictoriaMetrics + vmalert", rules.name)
    with httpx.Client(timeout=30) as client:
        vm0 = _scrape(client, vm.url)
        t0 = time.monotonic()
        mp = _start(group, "vmalert", argv, port, "/-/healthy", work)
        first: dict[tuple[str, str], float] = {}
        end = time.monotonic() + settle
        loads = []
        while True:
            m, mv = _scrape(client, mp.url), _scrape(client, vm.url)
            figures.rss_bytes = max(figures.rss_bytes, _value(m, "process_resident_memory_bytes")
                                    + _value(mv, "process_resident_memory_bytes"))  # fmt: skip
            loads.append(_load())
            for lb, v in m.get("vmalert_iteration_duration_seconds_sum", []):
                first.setdefault((lb["group"], "sum"), v)
            for lb, v in m.get("vmalert_iteration_duration_seconds_count", []):
                first.setdefault((lb["group"], "count"), v)
            left = end - time.monotonic()
            tick(f"{figures.backend}, {rules.name}: {max(left, 0):.0f} s left")
            if left <= 0:
                break
            time.sleep(min(POLL_S, left))
        elapsed = time.monotonic() - t0
        cpu = _value(m, "process_cpu_seconds_total") + _value(mv, "process_cpu_seconds_total")
        figures.cpu_s_per_min = (cpu - _value(vm0, "process_cpu_seconds_total")) / elapsed * 60
        figures.heap_bytes = _value(m, "go_memstats_heap_inuse_bytes") + _value(mv, "go_memstats_heap_inuse_bytes")
        figures.load_1m = statistics.median(loads)
        sums = {lb["group"]: v for lb, v in m.get("vmalert_iteration_duration_seconds_sum", [])}
        counts = {lb["group"]: v for lb, v in m.get("vmalert_iteration_duration_seconds_count", [])}
        series: dict[str, float] = {}
        for name in ("vmalert_recording_rules_last_evaluation_samples", "vmalert_alerts_firing"):
            for lb, v in m.get(name, []):
                series[lb.get("group", "")] = series.get(lb.get("group", ""), 0) + v
        group.stop("vmalert")
    for g, total in sums.items():
        n = counts.get(g, 0) - first.get((g, "count"), 0)
        s = total - first.get((g, "sum"), 0)
        if n <= 0:  # a group first seen at its first evaluation: its totals are all there is
            n, s = counts.get(g, 0), total
        figures.groups.append(GroupFigures(g, s / max(n, 1) * 1000, int(series.get(g, 0)), int(n), 0,
                                           rules.production_interval_s.get(g, 60.0)))  # fmt: skip
    return figures


def stop_all(group: ProcessGroup, names: Sequence[str]) -> None:
    """Stop the named processes of ``group``."""
    for name in names:
        group.stop(name)
