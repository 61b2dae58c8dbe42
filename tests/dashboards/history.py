"""A backfilled history of the recorded SLO and cost series, for the SLO and Cost dashboards' previews.

Three hours before the live stack starts, sampled every minute: team-a meets its SLOs, team-b
burns its TTFT budget at 1.5x; both hold GPUs whose cost, busy time and energy follow a slow
wave. The values are what the SLO and cost rules record (the live rules take over from there),
so the panels show hours of history next to the minutes the test runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.model import LatencySLI
from inferwatch.slo.windows import format_duration, recorded_windows

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import cost as cc
from inferwatch.conventions import slo as sc
from tests.support.backfill import Series, gauge_points

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


def _wave(base: float, t: float) -> float:
    return base * (1 + 0.3 * math.sin(t / 2400))


def _gauge(name: str, labels: dict[str, str], value: Callable[[float], float], start: float, end: float) -> Series:
    return Series(name, labels, gauge_points(value, start, end, STEP))


def slo_series(config: InferwatchConfig, start: float, end: float) -> list[Series]:
    """Good/total events, burn rates over every recorded window and budget left, per SLO and namespace."""
    slos, _ = slos_from_specs(config.slos, "inferwatch.yaml")
    out: list[Series] = []
    for slo in slos:
        for ns, rps in TRAFFIC.items():
            kind = slo.sli.kind if isinstance(slo.sli, LatencySLI) else "availability"
            ratio = GOOD_RATIO[(kind, ns)]
            labels = {sc.SLO_LABEL: slo.name, "namespace": ns}
            out.append(_gauge(sc.TOTAL_EVENTS, labels, lambda t, r=rps: _wave(r, t), start, end))
            out.append(_gauge(sc.GOOD_EVENTS, labels, lambda t, r=rps, q=ratio: _wave(r, t) * q, start, end))
            burn = (1 - ratio) / slo.error_budget
            for w in recorded_windows(slo.period):
                window = {**labels, sc.WINDOW_LABEL: format_duration(w)}
                out.append(
                    _gauge(sc.BURN_RATE, window, lambda t, b=burn: b * (1 + 0.2 * math.sin(t / 900)), start, end)
                )
            out.append(
                _gauge(
                    sc.ERROR_BUDGET_REMAINING, labels, lambda t, b=burn: 1 - b * (t - start) / (end - start), start, end
                )
            )
    return out


def cost_series(config: InferwatchConfig, start: float, end: float) -> list[Series]:
    """Per-pod and per-model cost rates, GPU-seconds, energy, tokens and idle GPU cost."""
    out: list[Series] = []
    gpu_hour = config.pricing.default_gpu_hour / 3600
    for ns, (model, pod) in TEAMS.items():
        held = 1.25 if ns == "team-a" else 1.5  # GPUs held: one whole GPU plus shares
        by_pod = {"namespace": ns, "pod": pod}
        by_model = {"namespace": ns, "model_name": model}
        tokens = 900.0 if ns == "team-a" else 400.0

        def busy(t: float, h: float = held) -> float:
            return _wave(h * 0.6, t)

        out += [
            _gauge(cc.ALLOCATED_GPU_SECONDS_RATE, by_pod, lambda t, h=held: h, start, end),
            _gauge(cc.BUSY_GPU_SECONDS_RATE, by_pod, busy, start, end),
            _gauge(cc.ALLOCATED_COST_RATE, by_pod, lambda t, h=held: h * gpu_hour, start, end),
            _gauge(cc.BUSY_COST_RATE, by_pod, lambda t, b=busy: b(t) * gpu_hour, start, end),
            _gauge(cc.ENERGY_JOULES_RATE, by_pod, lambda t, b=busy: 120 + b(t) * 400, start, end),
            _gauge(cc.MODEL_ALLOCATED_COST_RATE, by_model, lambda t, h=held: h * gpu_hour, start, end),
            _gauge(cc.PROMPT_TOKENS_RATE, by_model, lambda t, k=tokens: _wave(k * 0.7, t), start, end),
            _gauge(cc.GENERATION_TOKENS_RATE, by_model, lambda t, k=tokens: _wave(k * 0.3, t), start, end),
            _gauge(
                cc.COST_PER_MTOK_ALLOCATED,
                by_model,
                lambda t, h=held, k=tokens: h * gpu_hour / _wave(k, t) * 1e6,
                start,
                end,
            ),
            _gauge(
                cc.COST_PER_MTOK_USAGE,
                by_model,
                lambda t, b=busy, k=tokens: b(t) * gpu_hour / _wave(k, t) * 1e6,
                start,
                end,
            ),
        ]
    idle = {"gpu_uuid": "GPU-53000000-0000-4000-8000-000000000003", "gpu_model": "NVIDIA H100 80GB HBM3"}
    out.append(_gauge(cc.GPU_IDLE_COST_RATE, idle, lambda t: 4 / 7 * gpu_hour, start, end))
    return out
