"""Hand-built cost reports (no Prometheus): the inputs of the golden and escaping tests."""

from __future__ import annotations

import math
from dataclasses import replace

from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.model import (
    CostReport,
    DailyPoint,
    IdleGpu,
    ModelCost,
    NamespaceCost,
    PodUtilization,
    share_idle,
)
from inferwatch.slo.cost.week import IsoWeek

WEEK = IsoWeek(2026, 46)
HOSTILE_NAMESPACE = "team\"q'<i>x</i>|n,=1+2"
HOSTILE_MODEL = "<script>alert('x')</script>"
NEWLINE_MODEL = "org/model,with|pipe\nsecond line $x$ & <b>"


def model_cost(ns: str, model: str, cost: float, prompt: float, generation: float, prefill: float = 0.25) -> ModelCost:
    """A model whose pods held ``cost``; 60 % busy; ``prefill`` of the cost is input."""
    return ModelCost(
        namespace=ns,
        model=model,
        allocated_cost=cost,
        usage_cost=cost * 0.6,
        input_cost=cost * prefill,
        prompt_tokens=prompt,
        generation_tokens=generation,
    )


def namespace_cost(
    name: str, models: tuple[ModelCost, ...], gpu_hours: float, extra_cost: float = 0.0
) -> NamespaceCost:
    """A namespace of ``models`` plus ``extra_cost`` held by pods that serve no model."""
    cost = sum(m.allocated_cost for m in models) + extra_cost
    return NamespaceCost(
        namespace=name,
        allocated_gpu_hours=gpu_hours,
        busy_gpu_hours=gpu_hours * 0.6,
        allocated_cost=cost,
        usage_cost=cost * 0.6,
        idle_share=0.0,
        energy_kwh=gpu_hours * 0.4,
        energy_cost=gpu_hours * 0.4 * 0.3,
        prompt_tokens=sum(m.prompt_tokens for m in models),
        generation_tokens=sum(m.generation_tokens for m in models),
        p95_ttft_s=0.86,
        models=models,
        observed_hours=168,
    )


def _daily(values: list[float]) -> list[DailyPoint]:
    return [DailyPoint(d, v) for d, v in enumerate(values)]


def sample_report(namespace_b: str = "team-b", model_b: str = "Qwen/Qwen2.5-7B") -> CostReport:
    """Two namespaces, three models, an idle GPU, an underused pod and a previous week."""
    a_models = (
        model_cost("team-a", "meta-llama/Llama-3.1-70B", 672.0, 756e6, 151.2e6),
        model_cost("team-a", "Qwen/Qwen2.5-7B", 336.0, 604.8e6, 181.44e6),
    )
    b_models = (model_cost(namespace_b, model_b, 336.0, 1_481_000_000.0, 333_000_000.0, prefill=0.3),)
    namespaces = (
        namespace_cost("team-a", a_models, 252.0),
        namespace_cost(namespace_b, b_models, 84.0, extra_cost=12.5),
    )
    previous = CostReport(
        week=WEEK.previous(),
        currency="EUR",
        idle_policy=IdlePolicy.SEPARATE,
        total_cost=1500.0,
        total_gpu_hours=672.0,
        idle_cost=400.0,
        idle_gpu_hours=200.0,
        namespaces=(
            namespace_cost("team-a", (model_cost("team-a", "meta-llama/Llama-3.1-70B", 1100.0, 2e9, 4e8),), 275.0),
        ),
        observed_hours=120,
    )
    return CostReport(
        week=WEEK,
        currency="EUR",
        idle_policy=IdlePolicy.SEPARATE,
        total_cost=1908.5,
        total_gpu_hours=840.0,
        idle_cost=552.0,
        idle_gpu_hours=264.0,
        namespaces=namespaces,
        observed_hours=168,
        rule_interval_s=60,
        low_utilization_threshold=0.3,
        idle_gpus=(
            IdleGpu("GPU-M", "gpu-node-2", "NVIDIA A100-SXM4-80GB", 96.0, 192.0),
            IdleGpu("GPU-D", "gpu-node-3", "NVIDIA L4", 168.0, 168.0),
        ),
        low_utilization=(PodUtilization(namespace_b, "b-0", 84.0, 0.1852, 348.5),),
        previous=previous,
        daily_cost={"team-a": _daily([144.0] * 7), namespace_b: _daily([50.0] * 7)},
        daily_per_mtok={
            ("team-a", "meta-llama/Llama-3.1-70B"): _daily([0.74, 0.73, 0.75, 0.74, 0.74, 0.7, math.nan]),
            ("team-a", "Qwen/Qwen2.5-7B"): _daily([0.43] * 7),
            (namespace_b, model_b): _daily([0.1852] * 7),
        },
        daily_utilization={"team-a": _daily([0.63] * 7), namespace_b: _daily([0.6, 0.5, 0.4, 0.6, 0.6, 0.7, 0.6])},
        daily_p95_ttft={"team-a": _daily([0.86] * 7), namespace_b: _daily([0.9] * 7)},
    )


def shared_report() -> CostReport:
    """The sample with idle shared out over namespaces (``idle_policy: share``)."""
    report = sample_report()
    return replace(report, idle_policy=IdlePolicy.SHARE, namespaces=share_idle(report.namespaces, report.idle_cost))
