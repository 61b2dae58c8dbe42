"""A backfilled GPU + vLLM history with known answers, for the cost report tests.

Five GPUs over ISO week 2026-W46, and the last two days of the week before (inferwatch was
installed that Saturday), so the report has a partial week to compare with. team-b arrived on
Monday of W46: before that, its half of GPU-B was idle.

- GPU-A (H100, 4.00/h): exclusive to team-a/a-0 (Llama 70B), busy 90 % 08-20 h, 40 % otherwise;
- GPU-B (H100): time-sliced, half to team-a/a-1 and half to team-b/b-0 (both Qwen 7B), busy 60 %;
- GPU-C (H100): team-c/c-0 Monday to Friday only; the weekend is an idle gap (nobody holds it);
- GPU-M (A100, 2.00/h): MIG, one 3/7 instance held by team-m/m-0; 4/7 of it is idle;
- GPU-D (L4, not listed: default 1.00/h): nobody holds it all week.

team-a has an llm-d router naming tenants acme (half of team-a's tokens) and globex (30 % in daytime,
10 % at night); its a-0 (Llama) runs two LoRA adapters in weekday daytime, one on weekday nights and
none at weekends.

The raw series are what the inferwatch exporter, vLLM and kube-state-metrics (namespace labels:
team-a and team-b are team "search", team-c "ads", team-m has no label) expose (sampled every two
minutes); the normalization and cost rules are backfilled over them pass by pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import yaml

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config import Pricing
from inferwatch.conventions import normalized as n
from inferwatch.localstack.backfill import Series
from inferwatch.localstack.backfilled import BackfilledPrometheus
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.slo.cost.week import IsoWeek
from inferwatch.tools import Toolbox
from tests.support.series import constant, counter_points, gauge_points

WEEK = IsoWeek(2026, 46)
# One sample (and one rule evaluation) every two minutes keeps the backfill quick on 2 cores.
STEP = 120.0
# Exactly one step: Prometheus 3's lookback window (t - lookback, t] is open on the left, so it
# holds exactly one sample of every series sampled each step, whatever the evaluation offsets of
# the rule passes (hashes of group and file names). Just under a step, a pass evaluated less than
# a second before its input pass's slot would see none of that input.
LOOKBACK = f"{STEP:g}s"
HOUR = 3600.0
DAY = 86400.0
H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"
L4 = "NVIDIA L4"
PRICING = Pricing(
    currency="EUR",
    default_gpu_hour=1.0,
    gpu_hour={H100: 4.0, A100: 2.0},
    energy_kwh=0.2,
    pue=1.5,
    rule_interval_s=int(STEP),
    # team-m's pod (its GPU slice 50 % busy) is listed as a saving; the others run at 60-70 %.
    low_utilization=0.55,
)
START = WEEK.start - timedelta(days=2)
END = WEEK.end + timedelta(minutes=10)
NODES = {
    "GPU-A": "gpu-node-1",
    "GPU-B": "gpu-node-1",
    "GPU-C": "gpu-node-2",
    "GPU-M": "gpu-node-2",
    "GPU-D": "gpu-node-3",
}


def hour_of_day(t: float) -> float:
    """Hour of the UTC day of unix time ``t``."""
    return (t % DAY) / HOUR


def is_weekday(t: float) -> bool:
    """Monday to Friday (UTC)."""
    return datetime.fromtimestamp(t, UTC).weekday() < 5


def in_week(t: float) -> bool:
    """In the report's week (W46) or later."""
    return t >= WEEK.start.timestamp()


def daytime(t: float) -> bool:
    """08:00 to 20:00 UTC."""
    return 8 <= hour_of_day(t) < 20


@dataclass(frozen=True)
class Pod:
    """A vLLM pod: what it serves, token rates, optional prefill/decode seconds per second."""

    namespace: str
    name: str
    model: str
    prompt: Callable[[float], float]
    generation: Callable[[float], float]
    prefill_decode: tuple[float, float] | None


PODS = (
    Pod(
        "team-a",
        "a-0",
        "meta-llama/Llama-3.1-70B",
        lambda t: 2000.0 if daytime(t) else 500.0,
        lambda t: 400.0 if daytime(t) else 100.0,
        (0.2, 0.6),
    ),
    Pod("team-a", "a-1", "Qwen/Qwen2.5-7B", lambda t: 1000.0, lambda t: 300.0, (0.1, 0.3)),
    Pod(
        "team-b",
        "b-0",
        "Qwen/Qwen2.5-7B",
        lambda t: 800.0 if in_week(t) else 0.0,
        lambda t: 200.0 if in_week(t) else 0.0,
        (0.15, 0.35),
    ),
    # team-c serves on weekdays only; without prefill/decode histograms (the token fallback).
    Pod(
        "team-c",
        "c-0",
        "mistralai/Mistral-7B",
        lambda t: 1500.0 if is_weekday(t) else 0.0,
        lambda t: 500.0 if is_weekday(t) else 0.0,
        None,
    ),
    Pod("team-m", "m-0", "Qwen/Qwen2.5-1.5B", lambda t: 300.0, lambda t: 100.0, None),
)


@dataclass(frozen=True)
class Gpu:
    """A GPU: model, busy ratio and power over time."""

    uuid: str
    model: str
    busy: Callable[[float], float]
    watts: float


GPUS = (
    Gpu("GPU-A", H100, lambda t: 0.9 if daytime(t) else 0.4, 400.0),
    Gpu("GPU-B", H100, lambda t: 0.6, 400.0),
    Gpu("GPU-C", H100, lambda t: 0.7 if is_weekday(t) else 0.0, 300.0),
    Gpu("GPU-M", A100, lambda t: 0.5, 250.0),
    Gpu("GPU-D", L4, lambda t: 0.0, 70.0),
)


@dataclass(frozen=True)
class Holding:
    """A container holding a share of a GPU (or of a MIG instance) while ``held(t)``."""

    gpu: str
    namespace: str
    pod: str
    ratio: float
    held: Callable[[float], bool]
    mig_uuid: str = ""

    def ratio_at(self, t: float) -> float | None:
        """The share held at ``t``; None (no sample: the pod is gone) while not held."""
        return self.ratio if self.held(t) else None


HOLDINGS = (
    Holding("GPU-A", "team-a", "a-0", 1.0, lambda t: True),
    Holding("GPU-B", "team-a", "a-1", 0.5, lambda t: True),
    Holding("GPU-B", "team-b", "b-0", 0.5, in_week),
    Holding("GPU-C", "team-c", "c-0", 1.0, is_weekday),
    Holding("GPU-M", "team-m", "m-0", 3 / 7, lambda t: True, mig_uuid="MIG-M-1"),
)
# kube-state-metrics' namespace labels (allowed: team); team-m has none.
NAMESPACE_LABELS = {
    "team-a": {"label_team": "search"},
    "team-b": {"label_team": "search"},
    "team-c": {"label_team": "ads"},
}
TTFT_BUCKETS = (("0.5", 0.9), ("1.0", 0.97), ("+Inf", 1.0))
REQUESTS_PER_S = 10.0
# team-a's llm-d router: each tenant's share of team-a's tokens (prompt and generated alike); the
# default flow (no header) is no tenant, and the rest (10 % in daytime, 30 % at night) skips the router.
TENANTS = {
    "acme": lambda t: 0.5,
    "globex": lambda t: 0.3 if daytime(t) else 0.1,
    "default-flow": lambda t: 0.1,
}
# a-0's LoRA adapters running: both in weekday daytime, sql-lora alone on weekday nights, none at weekends.
ADAPTER_SETS = ("sql-lora,chat-lora", "sql-lora", "")


def running_adapters(t: float) -> str:
    """The running_lora_adapters label vLLM sets on a-0 at ``t``."""
    if not is_weekday(t):
        return ""
    return ADAPTER_SETS[0] if daytime(t) else ADAPTER_SETS[1]


def _set_at(adapters: str, t: float) -> float | None:
    """vllm:lora_requests_info's value for a label combination at ``t``: when vLLM last set it (None: not yet).

    vLLM sets the current combination to the time at every step and keeps the others at the last
    time they were current; combinations change on the hour here.
    """
    if running_adapters(t) == adapters:
        return t
    hour = t - t % HOUR
    for _ in range(72):
        if running_adapters(hour - STEP) == adapters:
            return hour - STEP
        hour -= HOUR
    return None


def raw_series(start: datetime = START, end: datetime = END) -> list[Series]:
    """Every raw series of the history from ``start`` to ``end``."""
    s, e = start.timestamp(), end.timestamp()
    out: list[Series] = []
    for g in GPUS:
        info = {
            "gpu_uuid": g.uuid,
            "gpu_model": g.model,
            "gpu_index": "0",
            "mig_mode": "disabled",
            "node": NODES[g.uuid],
        }
        out.append(Series("inferwatch_gpu_info", info, gauge_points(lambda t: 1.0, s, e, STEP)))
        out.append(
            Series("inferwatch_gpu_busy_seconds_total", {"gpu_uuid": g.uuid}, counter_points(g.busy, s, e, STEP))
        )
        out.append(
            Series(
                "inferwatch_gpu_energy_joules_total",
                {"gpu_uuid": g.uuid},
                counter_points(constant(g.watts), s, e, STEP),
            )
        )
    for h in HOLDINGS:
        labels = {"gpu_uuid": h.gpu, "namespace": h.namespace, "pod": h.pod, "container": "vllm"}
        if h.mig_uuid:
            labels["mig_uuid"] = h.mig_uuid
        out.append(
            Series(
                "inferwatch_gpu_allocation_ratio",
                labels,
                gauge_points(h.ratio_at, s, e, STEP),
            )
        )
    for ns, ns_labels in NAMESPACE_LABELS.items():
        ksm = {"namespace": ns, **ns_labels, "job": "kube-state-metrics"}
        out.append(Series("kube_namespace_labels", ksm, gauge_points(lambda t: 1.0, s, e, STEP)))
    out += _router_and_lora(s, e)
    for p in PODS:
        labels = {"namespace": p.namespace, "pod": p.name, "model_name": p.model, "engine": "0"}
        out.append(Series("vllm:prompt_tokens_total", labels, counter_points(p.prompt, s, e, STEP)))
        out.append(Series("vllm:generation_tokens_total", labels, counter_points(p.generation, s, e, STEP)))
        if p.prefill_decode:
            prefill, decode = p.prefill_decode
            out.append(
                Series("vllm:request_prefill_time_seconds_sum", labels, counter_points(constant(prefill), s, e, STEP))
            )
            out.append(
                Series("vllm:request_decode_time_seconds_sum", labels, counter_points(constant(decode), s, e, STEP))
            )
        for le, share in TTFT_BUCKETS:
            out.append(
                Series(
                    "vllm:time_to_first_token_seconds_bucket",
                    {**labels, "le": le},
                    counter_points(constant(REQUESTS_PER_S * share), s, e, STEP),
                )
            )
    return out


def _tenant_tokens(share: Callable[[float], float], pods: list[Pod], *, prompt: bool) -> Callable[[float], float]:
    """A tenant's prompt (or generated) tokens per second: its share of the pods' tokens."""

    def rate(t: float) -> float:
        return share(t) * sum(p.prompt(t) if prompt else p.generation(t) for p in pods)

    return rate


def _router_and_lora(s: float, e: float) -> list[Series]:
    """team-a's router tokens per tenant (llm_d_epp_*), and a-0's LoRA adapters (vllm:lora_requests_info)."""
    out = []
    team_a = [p for p in PODS if p.namespace == "team-a"]
    for tenant, share in TENANTS.items():
        labels = {"namespace": "team-a", "job": "epp", "instance": "epp.team-a:9090", "model_name": "chat",
                  "target_model_name": "chat", "fairness_id": tenant, "priority": "0"}  # fmt: skip
        for part in ("input", "output"):
            tokens = _tenant_tokens(share, team_a, prompt=part == "input")
            out.append(Series(f"llm_d_epp_request_{part}_tokens_sum", labels, counter_points(tokens, s, e, STEP)))
    a0 = {"namespace": "team-a", "pod": "a-0", "job": "vllm", "max_lora": "4", "waiting_lora_adapters": ""}
    for adapters in ADAPTER_SETS:
        labels = {**a0, "running_lora_adapters": adapters}
        out.append(Series("vllm:lora_requests_info", labels, gauge_points(partial(_set_at, adapters), s, e, STEP)))
    running = {"namespace": "team-a", "pod": "a-0", "model_name": PODS[0].model, "engine": "0"}
    out.append(Series("vllm:num_requests_running", running, gauge_points(lambda t: 4.0, s, e, STEP)))
    return out


# The normalized series the cost rules and the report read; the other normalization rules
# would only record nothing over this history.
USED = {
    n.GPU_INFO,
    n.GPU_BUSY_RATE,
    n.GPU_ENERGY_RATE,
    n.GPU_ALLOCATION,
    n.GPU_REQUESTED,
    n.VLLM_PROMPT_TOKENS_RATE,
    n.VLLM_GENERATION_TOKENS_RATE,
    n.histogram_series("prefill", "sum"),
    n.histogram_series("decode", "sum"),
    n.histogram_series("ttft", "bucket"),
    n.ROUTER_INPUT_TOKENS_RATE,
    n.ROUTER_OUTPUT_TOKENS_RATE,
    n.SERVING_ENGINE_INFO,
    n.VLLM_LORA_LATEST,
    n.VLLM_LORA_SPLIT,
    n.VLLM_LORA_ADAPTERS,
}


def _normalization_used() -> RuleFile:
    groups = [
        RuleGroup(g.name, tuple(r for r in g.rules if isinstance(r, RecordingRule) and r.record in USED))
        for g in normalization_groups()
    ]
    return RuleFile(tuple(g for g in groups if g.rules))


def without(series: list[Series], outage: tuple[datetime, datetime]) -> list[Series]:
    """The series with no sample in [outage start, outage end): what a Prometheus that was down scraped."""
    s, e = (t.timestamp() for t in outage)
    return [replace(x, points=[p for p in x.points if not s <= p[0] < e]) for x in series]


def build_history(
    tools: Toolbox,
    workdir: Path,
    start: datetime = START,
    end: datetime = END,
    cluster: str = "",
    outage: tuple[datetime, datetime] | None = None,
) -> BackfilledPrometheus:
    """Backfill raw series, then the normalization and cost rules, pass by pass as they read each other.

    Backfilled samples carry no staleness markers, so a vanished gauge would live on for the
    5-minute lookback in every rule pass; a live Prometheus marks it stale at once. A lookback
    of one sample step gives the backfill the live behaviour: every rule pass sees each input
    sample exactly once.

    ``cluster`` names the cluster in the external labels, as each cluster's Prometheus does when a
    central one (Thanos, Mimir, federation, remote read) holds several: its own queries never see
    the label, a central Prometheus reading it remotely does.

    ``outage``: Prometheus was down from its start to its end: nothing scraped and no rule
    evaluated in between (the rules are backfilled before and after it, not across it).
    """
    hist = BackfilledPrometheus(tools, workdir, extra_args=[f"--query.lookback-delta={LOOKBACK}"])
    if cluster:
        config = yaml.safe_load(hist.config_file.read_text())
        config["global"]["external_labels"] = {"cluster": cluster}
        hist.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    groups = [*_normalization_used().groups, *cost_groups(PRICING)]
    if outage is None:
        hist.add_raw(raw_series(start, end))
        hist.backfill_groups(groups, start, end, eval_interval=f"{STEP:g}s")
        return hist
    hist.add_raw(without(raw_series(start, end), outage))
    for since, until in ((start, outage[0] - timedelta(seconds=1)), (outage[1], end)):
        hist.backfill_groups(groups, since, until, eval_interval=f"{STEP:g}s")
    return hist
