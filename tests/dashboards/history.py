"""A backfilled history of the recorded SLO and cost series, for the SLO and Cost dashboards' previews.

Three hours before the live stack starts (SLO series every minute, cost series every
`pricing.rule_interval_s`, as the rules record them): team-a meets its SLOs, team-b burns its
TTFT budget at 1.5x; both hold the GPUs they hold in the live stack, busy on a slow wave. The
values are what the SLO and cost rules record (the live rules take over from there), so the
panels show hours of history next to the minutes the test runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import cost as cc
from inferwatch.conventions import normalized as n
from inferwatch.conventions import slo as sc
from inferwatch.localstack.backfill import Series
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.model import LatencySLI
from inferwatch.slo.windows import format_duration, recorded_windows
from tests.support.series import constant, gauge_points

HOURS = 3
STEP = 60.0
TEAMS = {"team-a": ("chat-a", "a-0"), "team-b": ("chat-b", "b-0")}
# Good-event ratio by (SLI kind, namespace): team-b's TTFT burns 1.5x its 1 % budget.
GOOD_RATIO = {
    ("ttft", "team-a"): 0.998,
    ("ttft", "team-b"): 0.985,
    ("tpot", "team-a"): 0.996,
    ("tpot", "team-b"): 0.999,
    ("availability", "team-a"): 0.9996,
    ("availability", "team-b"): 0.9999,
}
TRAFFIC = {"team-a": 2.0, "team-b": 1.0}  # requests per second
# GPUs each team holds in the live stack: a whole GPU, a quarter of the time-sliced one, and for
# team-b the 3-slice MIG instance (3/7).
HELD = {"team-a": 1.25, "team-b": 1.25 + 3 / 7}
H100 = "NVIDIA H100 80GB HBM3"


def _wave(base: float, t: float) -> float:
    return base * (1 + 0.3 * math.sin(t / 2400))


def _scaled_wave(base: float, scale: float, t: float) -> float:
    return _wave(base, t) * scale


def _burn_wave(burn: float, t: float) -> float:
    return burn * (1 + 0.2 * math.sin(t / 900))


def _budget_left(burn: float, start: float, end: float, t: float) -> float:
    return 1 - burn * (t - start) / (end - start)


def _ticket_open(ticket: bool, end: float, t: float) -> float:
    return float(ticket and end - t < 3600)


def _times(value: Callable[[float], float], factor: float, offset: float = 0.0) -> Callable[[float], float]:
    return lambda t: offset + value(t) * factor


def _per(numerator: Callable[[float], float], base: float, factor: float) -> Callable[[float], float]:
    return lambda t: numerator(t) / _wave(base, t) * factor


def _gauge(name: str, labels: dict[str, str], value: Callable[[float], float], start: float, end: float) -> Series:
    return Series(name, labels, gauge_points(value, start, end, STEP))


def slo_series(config: InferwatchConfig, start: float, end: float) -> list[Series]:
    """Good/total events, burn rates over every recorded window and budget left, per SLO and namespace."""
    slos, _ = slos_from_specs(config.slos, "inferwatch.yaml")
    out: list[Series] = []
    for slo in slos:
        # The recording ran through the whole history: the window recorded in full (issue 27's coverage).
        for window in dict.fromkeys((slo.window, sc.GAP_WINDOW)):
            coverage = {sc.SLO_LABEL: slo.name, sc.WINDOW_LABEL: window}
            out.append(_gauge(sc.RECORDING_COVERAGE, coverage, constant(1.0), start, end))
        for ns, rps in TRAFFIC.items():
            kind = slo.sli.kind if isinstance(slo.sli, LatencySLI) else "availability"
            ratio = GOOD_RATIO[(kind, ns)]
            labels = {sc.SLO_LABEL: slo.name, "namespace": ns}
            out.append(_gauge(sc.TOTAL_EVENTS, labels, partial(_wave, rps), start, end))
            out.append(_gauge(sc.GOOD_EVENTS, labels, partial(_scaled_wave, rps, ratio), start, end))
            burn = (1 - ratio) / slo.error_budget
            for w in recorded_windows(slo.period):
                windowed = {**labels, sc.WINDOW_LABEL: format_duration(w)}
                out.append(_gauge(sc.BURN_RATE, windowed, partial(_burn_wave, burn), start, end))
            out.append(_gauge(sc.ERROR_BUDGET_REMAINING, labels, partial(_budget_left, burn, start, end), start, end))
            # A burn above 1 over the long windows kept a ticket open through the last hour.
            ticket = burn > 1
            out.append(_gauge(n.SLO_ALERT_STATE, labels, partial(_ticket_open, ticket, end), start, end))
    return out


def cost_series(config: InferwatchConfig, start: float, end: float) -> list[Series]:
    """Per-pod, per-model, per-tenant and per-adapter cost rates, GPU-seconds, energy, tokens and idle GPU cost.

    Sampled every `pricing.rule_interval_s`, as the cost rules record them (the spend panels
    integrate over that interval), at the live stack's scale: the GPUs each team holds there, H100
    prices, and the simulator's few tokens per second."""
    step = float(config.pricing.rule_interval_s)
    gpu_hour = config.pricing.gpu_hour.get(H100, config.pricing.default_gpu_hour) / 3600
    out: list[Series] = []

    def gauge(name: str, labels: dict[str, str], value: Callable[[float], float]) -> Series:
        return Series(name, labels, gauge_points(value, start, end, step))

    for ns, (model, pod) in TEAMS.items():
        held = HELD[ns]
        by_pod = {"namespace": ns, "pod": pod}
        by_model = {"namespace": ns, "model_name": model}
        tokens = 6.0 if ns == "team-a" else 4.0

        def busy(t: float, h: float = held) -> float:
            return _wave(h * 0.6, t)

        out += [
            gauge(cc.ALLOCATED_GPU_SECONDS_RATE, by_pod, constant(held)),
            gauge(cc.BUSY_GPU_SECONDS_RATE, by_pod, busy),
            gauge(cc.ALLOCATED_COST_RATE, by_pod, constant(held * gpu_hour)),
            gauge(cc.BUSY_COST_RATE, by_pod, _times(busy, gpu_hour)),
            gauge(cc.ENERGY_JOULES_RATE, by_pod, _times(busy, 400, 120)),
            gauge(cc.MODEL_ALLOCATED_COST_RATE, by_model, constant(held * gpu_hour)),
            gauge(cc.PROMPT_TOKENS_RATE, by_model, partial(_wave, tokens * 0.7)),
            gauge(cc.GENERATION_TOKENS_RATE, by_model, partial(_wave, tokens * 0.3)),
            gauge(cc.COST_PER_MTOK_ALLOCATED, by_model, _per(constant(held * gpu_hour), tokens, 1e6)),
            gauge(cc.COST_PER_MTOK_USAGE, by_model, _per(_times(busy, gpu_hour), tokens, 1e6)),
            gauge(cc.MODEL_ENERGY_JOULES_RATE, by_model, _times(busy, 400, 120)),
            gauge(
                cc.ENERGY_PER_THOUSAND_TOKENS,
                by_model,
                _per(_times(busy, 400, 120), tokens, 1e3),
            ),
        ]

    # team-a's router names two tenants (60 % and 25 % of its tokens); its pod runs two LoRA adapters.
    def const(value: float) -> Callable[[float], float]:
        return lambda t: value

    a_cost = HELD["team-a"] * gpu_hour
    for tenant, share in (("acme", 0.6), ("globex", 0.25)):
        labels = {"namespace": "team-a", "fairness_id": tenant}
        out.append(gauge(cc.TENANT_ALLOCATED_COST_RATE, labels, const(share * a_cost)))
    for ns in TEAMS:
        rest = 0.15 if ns == "team-a" else 1.0
        out.append(gauge(cc.TENANT_UNATTRIBUTED_COST_RATE, {"namespace": ns}, const(rest * HELD[ns] * gpu_hour)))
    for adapter in ("sql-lora", "chat-lora"):
        labels = {"namespace": "team-a", "model_name": TEAMS["team-a"][0], "lora_adapter": adapter}
        out.append(gauge(cc.LORA_ALLOCATED_COST_RATE, labels, const(a_cost / 2)))
    # Nobody holds half of the time-sliced GPU 2 and 4/7 of the MIG-partitioned GPU 3.
    for index, idle in ((2, 0.5), (3, 4 / 7)):
        labels = {"gpu_uuid": f"GPU-5{index:07d}-0000-4000-8000-00000000000{index}", "gpu_model": H100}
        out.append(gauge(cc.GPU_IDLE_COST_RATE, labels, constant(idle * gpu_hour)))
    return out
