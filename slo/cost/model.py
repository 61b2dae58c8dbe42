"""The weekly cost report's model: its typed figures and the arithmetic between them.

A CostReport is what one week cost, already aggregated by Prometheus (inferwatch.slo.cost.queries
asks for it, inferwatch.slo.cost.collection assembles it): per namespace, per namespace and
model, the idle GPUs and the pods under the utilization threshold. What is derived from those
figures lives here, as properties: a cost per million tokens, a utilization, the idle policy's
sharing, the movers against the previous week. Nothing here reads Prometheus, so the arithmetic
is tested with hand-built reports and an in-memory reader (tests/slo/cost/test_collection.py).

Figures are what was observed, never extrapolated: a week with two hours of data shows two hours'
cost, and ``observed_hours`` says how many hours of the week had data (the coverage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.week import IsoWeek

WEEK_HOURS = 168
MOVERS = 5  # namespaces and models listed under "moved most"


def _per_mtok(cost: float, tokens: float) -> float:
    return cost / tokens * 1e6 if tokens > 0 else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


@dataclass(frozen=True)
class ModelCost:
    """One model served in one namespace over the week."""

    namespace: str
    model: str
    allocated_cost: float
    usage_cost: float
    input_cost: float
    prompt_tokens: float
    generation_tokens: float
    idle_share: float = 0.0

    @property
    def cost(self) -> float:
        """What the model is charged: its pods' held GPU cost plus its part of the namespace's idle share."""
        return self.allocated_cost + self.idle_share

    @property
    def tokens(self) -> float:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens (NaN without tokens)."""
        return _per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based (busy time only) cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)

    @property
    def prefill_share(self) -> float:
        """Share of the model's cost that is prefill (input)."""
        return _ratio(self.input_cost, self.allocated_cost)

    @property
    def input_per_mtok(self) -> float:
        """Charged cost of prefill per million prompt tokens."""
        share = self.prefill_share
        return _per_mtok(self.cost * share, self.prompt_tokens) if math.isfinite(share) else math.nan

    @property
    def output_per_mtok(self) -> float:
        """Charged cost of decode per million generation tokens."""
        share = self.prefill_share
        return _per_mtok(self.cost * (1 - share), self.generation_tokens) if math.isfinite(share) else math.nan


@dataclass(frozen=True)
class NamespaceCost:
    """One namespace over the week."""

    namespace: str
    allocated_gpu_hours: float
    busy_gpu_hours: float
    allocated_cost: float
    usage_cost: float
    idle_share: float
    energy_kwh: float
    energy_cost: float
    prompt_tokens: float
    generation_tokens: float
    p95_ttft_s: float
    models: tuple[ModelCost, ...]
    observed_hours: int = WEEK_HOURS

    @property
    def cost(self) -> float:
        """What the namespace is charged: its held GPU cost plus its share of idle (if shared)."""
        return self.allocated_cost + self.idle_share

    @property
    def tokens(self) -> float:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def utilization(self) -> float:
        """Busy GPU-hours / held GPU-hours (= usage cost / allocated cost)."""
        return _ratio(self.busy_gpu_hours, self.allocated_gpu_hours)

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens."""
        return _per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based cost per million tokens."""
        return _per_mtok(self.usage_cost, self.tokens)


@dataclass(frozen=True)
class IdleGpu:
    """A GPU (or the unheld part of it) that nobody held: a saving if it is given back or packed."""

    gpu_uuid: str
    node: str
    gpu_model: str
    idle_gpu_hours: float
    idle_cost: float


@dataclass(frozen=True)
class PodUtilization:
    """A pod holding GPUs that stayed under the utilization threshold."""

    namespace: str
    pod: str
    gpu_hours: float
    utilization: float
    cost: float

    @property
    def unused_cost(self) -> float:
        """The part of its cost the GPUs spent not busy."""
        return self.cost * (1 - self.utilization)


@dataclass(frozen=True)
class DailyPoint:
    """One value of one series on one day (day = index 0..6 from Monday)."""

    day: int
    value: float


@dataclass(frozen=True)
class Change:
    """How much one namespace (or one namespace's model) cost this week against the previous one."""

    namespace: str
    model: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        """Current minus previous cost."""
        return self.current - self.previous

    @property
    def ratio(self) -> float:
        """Relative change (NaN when the previous week had no cost)."""
        return _ratio(self.delta, self.previous)


@dataclass(frozen=True)
class CostReport:
    """Everything the weekly report shows."""

    week: IsoWeek
    currency: str
    idle_policy: IdlePolicy
    total_cost: float
    total_gpu_hours: float
    idle_cost: float
    idle_gpu_hours: float
    namespaces: tuple[NamespaceCost, ...]
    observed_hours: int = WEEK_HOURS
    rule_interval_s: int = 60
    low_utilization_threshold: float = 0.3
    idle_gpus: tuple[IdleGpu, ...] = ()
    low_utilization: tuple[PodUtilization, ...] = ()
    previous: CostReport | None = None
    daily_cost: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_per_mtok: dict[tuple[str, str], list[DailyPoint]] = field(default_factory=dict)
    daily_utilization: dict[str, list[DailyPoint]] = field(default_factory=dict)
    daily_p95_ttft: dict[str, list[DailyPoint]] = field(default_factory=dict)

    @property
    def period_hours(self) -> int:
        """Hours in the week."""
        return WEEK_HOURS

    @property
    def full_coverage(self) -> bool:
        """Every hour of the week had data."""
        return self.observed_hours >= WEEK_HOURS

    @property
    def attributed_cost(self) -> float:
        """Cost held by namespaces (without the idle share)."""
        return sum(ns.allocated_cost for ns in self.namespaces)

    @property
    def reported_idle_cost(self) -> float:
        """Idle cost left on its own line (0 when shared out)."""
        return self.idle_cost if self.idle_policy is IdlePolicy.SEPARATE else 0.0

    @property
    def tokens(self) -> float:
        """Every namespace's prompt plus generation tokens."""
        return sum(ns.tokens for ns in self.namespaces)

    @property
    def per_mtok(self) -> float:
        """The whole GPU bill (idle included) per million tokens served."""
        return _per_mtok(self.total_cost, self.tokens)

    @property
    def idle_ratio(self) -> float:
        """Idle cost / the whole GPU bill."""
        return _ratio(self.idle_cost, self.total_cost)

    @property
    def idle_gpu_savings(self) -> float:
        """What the idle GPUs cost."""
        return sum(g.idle_cost for g in self.idle_gpus)

    @property
    def low_utilization_cost(self) -> float:
        """What the pods under the utilization threshold cost."""
        return sum(p.cost for p in self.low_utilization)

    def namespace_changes(self) -> tuple[Change, ...]:
        """The namespaces whose cost moved most against the previous week (none without one)."""
        if self.previous is None:
            return ()
        now = {ns.namespace: ns.cost for ns in self.namespaces}
        before = {ns.namespace: ns.cost for ns in self.previous.namespaces}
        return _top_changes({(k, ""): v for k, v in now.items()}, {(k, ""): v for k, v in before.items()})

    def model_changes(self) -> tuple[Change, ...]:
        """The (namespace, model) pairs whose cost moved most against the previous week."""
        if self.previous is None:
            return ()

        def costs(r: CostReport) -> dict[tuple[str, str], float]:
            return {(m.namespace, m.model): m.cost for ns in r.namespaces for m in ns.models}

        return _top_changes(costs(self), costs(self.previous))


def _top_changes(now: dict[tuple[str, str], float], before: dict[tuple[str, str], float]) -> tuple[Change, ...]:
    changes = [Change(k[0], k[1], before.get(k, 0.0), now.get(k, 0.0)) for k in sorted(now.keys() | before.keys())]
    moved = [ch for ch in changes if abs(ch.delta) > 0.005]
    moved.sort(key=lambda ch: (-abs(ch.delta), ch.namespace, ch.model))
    return tuple(moved[:MOVERS])


def share_idle(namespaces: tuple[NamespaceCost, ...], idle_cost: float) -> tuple[NamespaceCost, ...]:
    """Spread ``idle_cost`` over namespaces by their held GPU cost (``idle_policy: share``).

    A namespace's share follows its cost down to its models: each model carries the part of it
    that its pods' held cost is of the namespace's, so a namespace and its models price a
    token alike.
    """
    attributed = sum(ns.allocated_cost for ns in namespaces)
    if attributed <= 0:
        return namespaces
    out = []
    for ns in namespaces:
        share = idle_cost * ns.allocated_cost / attributed
        models = tuple(
            replace(m, idle_share=share * m.allocated_cost / ns.allocated_cost if ns.allocated_cost > 0 else 0.0)
            for m in ns.models
        )
        out.append(replace(ns, idle_share=share, models=models))
    return tuple(out)
