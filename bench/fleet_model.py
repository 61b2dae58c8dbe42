"""A synthetic GPU inference fleet, as Prometheus would have scraped it: the series and their samples.

The shape (at ``scale`` 1): 1,000 GPUs on 125 nodes of 8 — 100 nodes whose GPUs are allocated
whole (pods of tensor-parallel size 1, 2, 4 and 8; the TP-8 pods and every other TP-4 pod run two
data-parallel ranks, vLLM's `engine="0"`/`"1"`), 10 nodes whose GPUs are time-sliced two ways, 15
nodes whose GPUs are split into MIG instances (3g.40gb x 2 or 2g.20gb x 3) — and 500 vLLM pods
(200 exclusive, 150 time-sliced, 150 on MIG instances) serving 40 models in 60 namespaces. Every
count scales with ``scale`` (at least one of each kind), so a small fleet has every shape a full
one has.

What Prometheus holds for it, with the labels the chart's scrape configuration gives:

* every vLLM pod's families, re-exposed by its inferwatch sidecar (the chart's PodMonitor scrapes
  the sidecar, `honorLabels: true`): vLLM v1's metric families (vllm/v1/metrics/loggers.py) with
  their label sets (`model_name`, `engine`, `finished_reason`, LoRA's info labels) and default
  buckets, one copy per data-parallel rank;
* the sidecar's own series (its pod's GPUs or MIG instances, its allocation claim, the vLLM
  scrape's health) and the DaemonSet exporter's on every node (every GPU and MIG instance, the
  kubelet's allocations, pod-resources), named and labelled from `inferwatch.contract`;
* kube-state-metrics' pod phases and resource requests, and `up` per target.

Samples: a diurnal request rate per data-parallel rank, integrated into counters; every
histogram's bucket shares are fixed per model (a log-normal latency), so buckets stay cumulative
and monotone. `FleetHistory.write` writes them as OpenMetrics (for promtool, seconds) and as the
Prometheus text format with millisecond timestamps (VictoriaMetrics' `/api/v1/import/prometheus`)
in one pass.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click
import numpy as np
import numpy.typing as npt

from inferwatch import contract as ct
from inferwatch.config.buckets import VLLM_DEFAULT_BUCKETS
from inferwatch.promql import escape_label_value

Floats = npt.NDArray[np.float64]
Labels = dict[str, str]

# vLLM v1's default buckets (vllm/v1/metrics/loggers.py): request latencies, and token counts by
# build_1_2_5_buckets(max_model_len) at a 32k context, and the CUDA-graph sizes of iteration tokens.
REQUEST_LATENCY = VLLM_DEFAULT_BUCKETS["e2e"]
TTFT = VLLM_DEFAULT_BUCKETS["ttft"]
TOKEN_LATENCY = VLLM_DEFAULT_BUCKETS["tpot"]
TOKENS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
ITERATION_TOKENS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
PARAMS_N = (1, 2, 5, 10, 20)

# vLLM's histogram families: name -> (boundaries, median of the log-normal, spread).
VLLM_HISTOGRAMS: Mapping[str, tuple[tuple[float, ...], float, float]] = {
    "vllm:time_to_first_token_seconds": (TTFT, 0.4, 0.9),
    "vllm:inter_token_latency_seconds": (TOKEN_LATENCY, 0.03, 0.5),
    "vllm:request_time_per_output_token_seconds": (TOKEN_LATENCY, 0.035, 0.5),
    "vllm:e2e_request_latency_seconds": (REQUEST_LATENCY, 6.0, 0.8),
    "vllm:request_queue_time_seconds": (REQUEST_LATENCY, 0.05, 1.5),
    "vllm:request_inference_time_seconds": (REQUEST_LATENCY, 5.5, 0.8),
    "vllm:request_prefill_time_seconds": (REQUEST_LATENCY, 0.3, 0.9),
    "vllm:request_decode_time_seconds": (REQUEST_LATENCY, 5.0, 0.8),
    "vllm:request_prompt_tokens": (TOKENS, 900.0, 1.0),
    "vllm:request_generation_tokens": (TOKENS, 250.0, 0.9),
    "vllm:request_max_num_generation_tokens": (TOKENS, 250.0, 0.9),
    "vllm:request_params_max_tokens": (TOKENS, 1000.0, 0.7),
    "vllm:request_params_n": (PARAMS_N, 1.0, 0.1),
    "vllm:iteration_tokens_total": (ITERATION_TOKENS, 64.0, 1.5),
}
FINISHED_REASONS = ("stop", "length", "abort")
THROTTLE_REASONS = (
    "gpu_idle",
    "applications_clocks_setting",
    "sw_power_cap",
    "hw_slowdown",
    "sync_boost",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "display_clock_setting",
)  # exporters/nvml.py's THROTTLE_REASONS, by label value (that module needs pynvml)
GPU_MODEL = "NVIDIA H100 80GB HBM3"
SIDECAR_CONTAINER = "inferwatch-exporter"
SIDECAR_JOB = "inferwatch/inferwatch-sidecars"
DAEMONSET_JOB = "inferwatch-exporter"
KSM_JOB = "kube-state-metrics"
MIG_PROFILES = (("3g.40gb", 3, 2), ("2g.20gb", 2, 3))  # profile, slices of 7, instances per GPU


def _count(full: int, scale: float) -> int:
    return max(1, round(full * scale))


@dataclass(frozen=True)
class Pod:
    """One vLLM pod: where it runs, what it serves, and the GPUs (or MIG instances) it holds."""

    name: str
    namespace: str
    model: str
    node: str
    mode: str  # exclusive, time-sliced, mig
    gpus: tuple[str, ...]  # gpu_uuid of each GPU it holds
    share: float  # its allocation ratio of each of them
    mig: str = ""  # its MIG instance's uuid
    ranks: int = 1  # data-parallel ranks: vLLM's `engine` label values "0".."ranks-1"
    lora: bool = False


@dataclass
class Fleet:
    """The fleet at ``scale``: nodes, GPUs, MIG instances, pods and SLO targets."""

    scale: float = 1.0
    nodes: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (node, mode, gpu uuids)
    migs: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # gpu -> [(mig uuid, profile, slices)]
    pods: list[Pod] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, scale: float = 1.0) -> Fleet:
        """The fleet's layout (deterministic for a scale)."""
        f = cls(scale)
        f.models = [f"org-{m % 8}/model-{m:02d}" for m in range(_count(40, scale))]
        f.namespaces = [f"team-{n:02d}" for n in range(_count(60, scale))]
        modes = [("exclusive", _count(100, scale)), ("time-sliced", _count(10, scale)), ("mig", _count(15, scale))]
        for mode, n in modes:
            for _ in range(n):
                k = len(f.nodes)
                uuids = [f"GPU-{k:04d}{g:04d}-0000-4000-8000-00000000{k:04d}" for g in range(8)]
                f.nodes.append((f"gpu-node-{k:03d}", mode, uuids))
                if mode == "mig":
                    for g, uuid in enumerate(uuids):
                        profile, slices, count = MIG_PROFILES[g % 2]
                        f.migs[uuid] = [(f"MIG-{uuid[4:12]}-{i}", profile, slices) for i in range(count)]
        f._place(_count(200, scale), _count(150, scale), _count(150, scale))
        return f

    def _pod(self, mode: str, node: str, gpus: tuple[str, ...], share: float, mig: str = "", ranks: int = 1) -> None:
        i = len(self.pods)
        model = self.models[i % len(self.models)]
        namespace = self.namespaces[(i * 7) % len(self.namespaces)]
        name = f"vllm-{model.split('/')[1]}-{i:04d}"
        self.pods.append(Pod(name, namespace, model, node, mode, gpus, share, mig, ranks, lora=i % 10 == 0))

    def _place(self, exclusive: int, sliced: int, mig: int) -> None:
        tp_sizes = (1, 4, 1, 8, 1, 2)
        free = {node: list(uuids) for node, mode, uuids in self.nodes if mode == "exclusive"}
        for k in range(exclusive):
            tp = tp_sizes[k % len(tp_sizes)]
            node = next((n for n, g in free.items() if len(g) >= tp), None)
            if node is None:
                break
            gpus, free[node] = tuple(free[node][:tp]), free[node][tp:]
            self._pod("exclusive", node, gpus, 1.0, ranks=2 if tp == 8 or (tp == 4 and k % 2 == 1) else 1)
        slots = [(node, u) for node, mode, uuids in self.nodes if mode == "time-sliced" for u in uuids for _ in (0, 1)]
        for node, uuid in slots[:sliced]:
            self._pod("time-sliced", node, (uuid,), 0.5)
        instances = [
            (node, u, m, s)
            for node, mode, uuids in self.nodes
            if mode == "mig"
            for u in uuids
            for m, _, s in self.migs[u]
        ]
        for node, uuid, mig_uuid, slices in instances[:mig]:
            self._pod("mig", node, (uuid,), slices / 7, mig=mig_uuid)

    @property
    def gpu_count(self) -> int:
        """GPUs in the fleet."""
        return sum(len(u) for _, _, u in self.nodes)

    @property
    def engine_count(self) -> int:
        """vLLM engines (data-parallel ranks) in the fleet."""
        return sum(p.ranks for p in self.pods)


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2)))) if x > 0 else 0.0


def float_le(v: float) -> str:
    """A boundary as Prometheus 3 stores `le` (float form: `1` as `1.0`)."""
    return repr(float(v))


@dataclass
class FleetHistory:
    """The samples of every series of ``fleet`` at ``times`` (unix seconds, evenly spaced)."""

    fleet: Fleet
    times: npt.NDArray[np.int64]
    series: int = 0
    samples: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    @property
    def step(self) -> float:
        """Seconds between samples."""
        return float(self.times[1] - self.times[0]) if len(self.times) > 1 else 60.0

    def _rate(self, seed: int, base: float) -> Floats:
        """A diurnal rate with a per-seed phase and a little noise, never negative."""
        rng = np.random.default_rng(seed)
        t = self.times.astype(np.float64)
        wave = 1 + 0.5 * np.sin(2 * math.pi * t / 86400 + seed % 17)
        result: Floats = np.clip(base * wave * (1 + 0.1 * rng.standard_normal(len(t))), 0, None)
        return result

    def _counter(self, rate: Floats) -> Floats:
        out: Floats = np.concatenate(([0.0], np.cumsum(rate[:-1] * self.step)))
        return out

    def rows(self) -> Iterator[tuple[str, str, Labels, Floats]]:
        """(source, name, labels, values) of every series: vLLM, sidecars, DaemonSet, kube-state-metrics."""
        yield from self._vllm_rows()
        yield from self._exporter_rows()
        yield from self._kube_rows()

    def _vllm_rows(self) -> Iterator[tuple[str, str, Labels, Floats]]:
        n = len(self.times)
        now = self.times.astype(np.float64)
        for i, pod in enumerate(self.fleet.pods):
            target = {
                "job": SIDECAR_JOB,
                "instance": f"10.{i // 250}.{i % 250}.10:9400",
                "namespace": pod.namespace,
                "pod": pod.name,
                "container": SIDECAR_CONTAINER,
                "endpoint": "iw-metrics",
            }
            m = self.fleet.models.index(pod.model)
            for rank in range(pod.ranks):
                base = {**target, "model_name": pod.model, "engine": str(rank)}
                rate = self._rate(i * 8 + rank, 0.5 + (i % 9) * 0.4)
                reqs = self._counter(rate)
                for name, (bounds, median, sigma) in VLLM_HISTOGRAMS.items():
                    med = median * (1 + 0.05 * (m % 7))
                    for b in (*bounds, math.inf):
                        share = 1.0 if math.isinf(b) else _lognormal_cdf(b, med, sigma)
                        le = "+Inf" if math.isinf(b) else float_le(b)
                        yield "vllm", name + "_bucket", {**base, "le": le}, np.round(reqs * share, 3)
                    yield "vllm", name + "_count", base, np.round(reqs, 3)
                    yield "vllm", name + "_sum", base, np.round(reqs * med * math.exp(sigma**2 / 2), 3)
                for reason, share in zip(FINISHED_REASONS, (0.7, 0.28, 0.02), strict=True):
                    yield (
                        "vllm",
                        "vllm:request_success_total",
                        {**base, "finished_reason": reason},
                        np.round(reqs * share, 3),
                    )
                yield "vllm", "vllm:prompt_tokens_total", base, np.round(reqs * 900, 1)
                yield "vllm", "vllm:generation_tokens_total", base, np.round(reqs * 250, 1)
                yield "vllm", "vllm:num_preemptions_total", base, np.floor(reqs * 0.001)
                yield "vllm", "vllm:prefix_cache_queries_total", base, np.round(reqs * 900, 1)
                yield "vllm", "vllm:prefix_cache_hits_total", base, np.round(reqs * 300, 1)
                yield "vllm", "vllm:num_requests_running", base, np.round(rate * 6, 0)
                yield (
                    "vllm",
                    "vllm:num_requests_waiting",
                    base,
                    np.asarray(np.round(np.maximum(rate - 2, 0.0), 0), dtype=np.float64),
                )
                yield (
                    "vllm",
                    "vllm:kv_cache_usage_perc",
                    base,
                    np.asarray(np.round(np.minimum(np.maximum(rate / 5, 0.0), 1.0), 4), dtype=np.float64),
                )
                info = {**base, "block_size": "16", "cache_dtype": "auto", "enable_prefix_caching": "True",
                        "gpu_memory_utilization": "0.9", "num_gpu_blocks": "27000"}  # fmt: skip
                yield "vllm", "vllm:cache_config_info", info, np.ones(n)
                if pod.lora:
                    lora = {**base, "max_lora": "4", "running_lora_adapters": "sql-lora,chat-lora",
                            "waiting_lora_adapters": ""}  # fmt: skip
                    yield "vllm", "vllm:lora_requests_info", lora, now
            yield from self._sidecar_rows(pod, target)

    def _gpu_rows(self, uuid: str, target: Labels, source: str, seed: int) -> Iterator[tuple[str, str, Labels, Floats]]:
        n = len(self.times)
        busy = np.clip(self._rate(seed, 0.55), 0, 1)
        g = {**target, ct.GPU_UUID: uuid}
        mig = "enabled" if uuid in self.fleet.migs else "disabled"
        info = {**g, "gpu_index": str(seed % 8), "gpu_model": GPU_MODEL, "pci_bus_id": f"00000000:{seed % 8:02X}:00.0",
                "driver_version": "570.133.20", "mig_mode": mig}  # fmt: skip
        yield source, ct.GPU_INFO.name, info, np.ones(n)
        yield source, ct.GPU_UP.name, g, np.ones(n)
        yield source, ct.GPU_UTILIZATION.name, g, np.round(busy, 3)
        yield source, ct.GPU_BUSY.name, g, np.round(self._counter(busy), 2)
        yield source, ct.GPU_MEMORY_USED.name, g, np.full(n, 7.2e10)
        yield source, ct.GPU_MEMORY_TOTAL.name, g, np.full(n, 8.5e10)
        yield source, ct.GPU_POWER.name, g, np.round(100 + 500 * busy, 1)
        yield source, ct.GPU_POWER_LIMIT.name, g, np.full(n, 700.0)
        yield source, ct.GPU_ENERGY.name, g, np.round(self._counter(100 + 500 * busy), 0)
        for sensor in ct.TEMPERATURE_SENSORS:
            yield source, ct.GPU_TEMPERATURE.name, {**g, "sensor": sensor}, np.round(40 + 30 * busy, 0)
        for clock in ct.CLOCK_DOMAINS:
            yield source, ct.GPU_CLOCK.name, {**g, "clock": clock}, np.full(n, 1.98e9)
        for reason in THROTTLE_REASONS:
            yield source, ct.GPU_THROTTLE.name, {**g, "reason": reason}, np.zeros(n)
        for kind in ct.ECC_TYPES:
            yield source, ct.GPU_ECC_ERRORS.name, {**g, "type": kind}, np.zeros(n)
        for direction in ct.PCIE_DIRECTIONS:
            yield source, ct.GPU_PCIE_BYTES.name, {**g, "direction": direction}, np.round(self._counter(busy * 2e9), 0)
        yield source, ct.GPU_SAMPLE_AGE.name, g, np.full(n, 1.0)
        for mig_uuid, profile, slices in self.fleet.migs.get(uuid, []):
            m = {**g, ct.MIG_UUID: mig_uuid}
            yield source, ct.MIG_INFO.name, {**m, "gpu_instance_id": mig_uuid[-1], "compute_instance_id": "0",
                                             "profile": profile}, np.ones(n)  # fmt: skip
            yield source, ct.MIG_SLICE_RATIO.name, m, np.full(n, round(slices / 7, 4))
            yield source, ct.MIG_MEMORY_USED.name, m, np.full(n, 3.0e10)
            yield source, ct.MIG_MEMORY_TOTAL.name, m, np.full(n, 4.0e10)

    def _sidecar_rows(self, pod: Pod, target: Labels) -> Iterator[tuple[str, str, Labels, Floats]]:
        n = len(self.times)
        for k, uuid in enumerate(pod.gpus):
            yield from self._gpu_rows(uuid, target, "sidecar", zlib.crc32(uuid.encode()) % 1000 + k)
            alloc = {**target, ct.GPU_UUID: uuid, "container": "vllm", ct.ALLOCATION_SOURCE: ct.ALLOCATION_FROM_SIDECAR}
            yield "sidecar", ct.GPU_ALLOCATION.name, alloc, np.full(n, pod.share)
        yield "sidecar", ct.VLLM_UP.name, target, np.ones(n)
        yield "sidecar", ct.VLLM_SCRAPE_DURATION.name, target, np.full(n, 0.004)
        for reason in ct.VLLM_SCRAPE_ERROR_REASONS:
            yield "sidecar", ct.VLLM_SCRAPE_ERRORS.name, {**target, "reason": reason}, np.zeros(n)
        for reason in ct.VLLM_REPAIR_REASONS:
            yield "sidecar", ct.VLLM_SCRAPE_REPAIRS.name, {**target, "reason": reason}, np.zeros(n)
        yield "sidecar", ct.EXPORTER_INFO.name, {**target, "version": "0.9.0", "gpu_backend": "nvml"}, np.ones(n)
        yield "sidecar", "up", target, np.ones(n)

    def _exporter_rows(self) -> Iterator[tuple[str, str, Labels, Floats]]:
        n = len(self.times)
        held: dict[str, list[Pod]] = {}
        for pod in self.fleet.pods:
            for uuid in pod.gpus:
                held.setdefault(uuid, []).append(pod)
        for k, (node, _mode, uuids) in enumerate(self.fleet.nodes):
            target = {"job": DAEMONSET_JOB, "instance": f"10.200.{k // 250}.{k % 250}:9400", "namespace": "inferwatch",
                      "pod": f"inferwatch-exporter-{k:05x}", "service": DAEMONSET_JOB, "endpoint": "metrics",
                      "container": "exporter", "node": node}  # fmt: skip
            for g, uuid in enumerate(uuids):
                yield from self._gpu_rows(uuid, target, "daemonset", zlib.crc32(uuid.encode()) % 1000 + g)
                yield "daemonset", ct.PODRESOURCES_GPU_INFO.name, {**target, ct.GPU_UUID: uuid}, np.ones(n)
                for pod in held.get(uuid, []):
                    alloc = {**target, ct.GPU_UUID: uuid, "namespace": pod.namespace, "pod": pod.name,
                             "container": "vllm", ct.ALLOCATION_SOURCE: ct.ALLOCATION_FROM_KUBELET}  # fmt: skip
                    yield "daemonset", ct.GPU_ALLOCATION.name, alloc, np.full(n, pod.share)
            yield "daemonset", ct.PODRESOURCES_UP.name, target, np.ones(n)
            yield "daemonset", ct.EXPORTER_INFO.name, {**target, "version": "0.9.0", "gpu_backend": "nvml"}, np.ones(n)
            yield "daemonset", "up", target, np.ones(n)

    def _kube_rows(self) -> Iterator[tuple[str, str, Labels, Floats]]:
        n = len(self.times)
        target = {"job": KSM_JOB, "instance": "10.210.0.5:8080", "service": KSM_JOB, "endpoint": "http"}
        yield "kube", "up", {**target, "namespace": "monitoring", "pod": "kube-state-metrics-0"}, np.ones(n)
        for pod in self.fleet.pods:
            p = {**target, "namespace": pod.namespace, "pod": pod.name, "uid": f"uid-{pod.name}"}
            for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
                yield (
                    "kube",
                    "kube_pod_status_phase",
                    {**p, "phase": phase},
                    np.full(n, 1.0 if phase == "Running" else 0.0),
                )
            c = {**p, "container": "vllm", "node": pod.node}
            gpus = float(len(pod.gpus)) if pod.mode == "exclusive" else 1.0
            for resource, unit, value in (
                ("nvidia_com_gpu", "integer", gpus),
                ("cpu", "core", 8.0),
                ("memory", "byte", 6.4e10),
            ):
                yield (
                    "kube",
                    "kube_pod_container_resource_requests",
                    {**c, "resource": resource, "unit": unit},
                    np.full(n, value),
                )

    def write(self, om: IO[str], vm: IO[str] | None = None, live_from: int | None = None,
              live_dir: Path | None = None) -> None:  # fmt: skip
        """Write every series: OpenMetrics (seconds) into ``om`` for the samples before ``live_from``,
        the Prometheus text format (milliseconds) into ``vm`` for all of them, and from ``live_from``
        on one exposition per sample time (no timestamps) as ``live_dir/<k>.prom``, which a scrape
        target serves while its time is current."""
        live_from = len(self.times) if live_from is None else live_from
        by_name: dict[str, list[tuple[Labels, Floats]]] = {}
        for source, name, labels, values in self.rows():
            by_name.setdefault(name, []).append((labels, values))  # OpenMetrics wants a name's samples together
            self.series += 1
            self.by_source[source] = self.by_source.get(source, 0) + 1
        self.samples = self.series * len(self.times)
        prefixes: list[str] = []
        matrix = np.empty((self.series, len(self.times)))
        for name in sorted(by_name):
            for labels, values in by_name.pop(name):
                label_text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items()))
                matrix[len(prefixes)] = values
                prefixes.append(name + "{" + label_text + "} ")
        om_suffix = [f" {t}\n" for t in self.times[:live_from].tolist()]
        vm_suffix = [f" {t * 1000}\n" for t in self.times.tolist()]
        for prefix, row in zip(prefixes, matrix, strict=True):
            text = list(map(repr, row.tolist()))
            if live_from:
                om.write(prefix)
                om.write(prefix.join(map(str.__add__, text[:live_from], om_suffix)))
            if vm is not None:
                vm.write(prefix)
                vm.write(prefix.join(map(str.__add__, text, vm_suffix)))
        om.write("# EOF\n")
        if live_dir is not None:
            live_dir.mkdir(parents=True, exist_ok=True)
            for k in range(live_from, len(self.times)):
                lines = map(str.__add__, prefixes, map(repr, matrix[:, k].tolist()))
                (live_dir / f"{k}.prom").write_text("\n".join(lines) + "\n")


def write_history(
    fleet: Fleet, times: npt.NDArray[np.int64], om_path: Path, vm_path: Path | None, live_from: int | None = None,
    live_dir: Path | None = None,
) -> FleetHistory:  # fmt: skip
    """Write ``fleet``'s history at ``times`` (see `FleetHistory.write`); returns its counts."""
    h = FleetHistory(fleet, times)
    with om_path.open("w") as om:
        if vm_path is None:
            h.write(om, None, live_from, live_dir)
        else:
            with vm_path.open("w") as vm:
                h.write(om, vm, live_from, live_dir)
    return h


@click.command()
@click.option("--scale", type=float, default=0.02, show_default=True, help="fleet size (1 = 1,000 GPUs)")
@click.option("--end", type=int, required=True, help="the last sample's time (unix seconds)")
@click.option("--minutes", type=int, default=20, show_default=True, help="minutes of history, one sample a minute")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="the OpenMetrics file to write")
def main(scale: float, end: int, minutes: int, out: Path) -> None:
    """Write a fleet's history as OpenMetrics (what the benchmark imports), for tests and a look at the data."""
    times = np.arange(end - (minutes - 1) * 60, end + 1, 60, dtype=np.int64)
    h = write_history(Fleet.build(scale), times, out, None)
    click.echo(
        f"{h.series} series, {h.samples} samples: {', '.join(f'{k} {v}' for k, v in sorted(h.by_source.items()))}"
    )


if __name__ == "__main__":
    main()
