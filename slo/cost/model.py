"""The weekly cost report's model: the ledger of the week and every figure added up from it.

A CostReport holds the week's ledger lines (inferwatch.slo.cost.ledger: GPU-hours priced at list
price, per cluster, namespace, model and GPU model) and the few figures that are not money
(coverage, P95 TTFT, the prefill share, namespace labels, the per-GPU and per-pod savings
detail). Every money figure is a sum of lines, so the header, the tables, the charts and the
savings add up to the cent: namespaces + idle = the bill, a namespace's models (and its part
not attributed to a model) = the namespace, a team's namespaces = the team.

Figures are what was observed, never extrapolated: a week with two hours of data shows two hours'
cost, and the coverage says how many hours of the week each cluster's cost rules recorded (an hour
Prometheus was down for ten minutes is 50/60 of an hour) and which hours rest on a gap. Nothing here
reads Prometheus (inferwatch.slo.cost.collection assembles a report), so the arithmetic is tested
with hand-built reports and an in-memory reader (tests/slo/cost/test_collection.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.compare import Comparison
from inferwatch.slo.cost.figures import (
    MOVERS,
    NOT_ATTRIBUTED,
    WEEK_HOURS,
    Bill,
    Figures,
    Key,
    label_key,
    per_mtok,
    ratio,
)
from inferwatch.slo.cost.ledger import ZERO, Line, LineKind, PriceList, total
from inferwatch.slo.cost.week import IsoWeek

__all__ = ["MOVERS", "NOT_ATTRIBUTED", "WEEK_HOURS", "Bill", "CostReport", "Key", "per_mtok", "ratio"]

NO_TENANT = "(no tenant reported)"
NO_ADAPTER = "(no adapter running)"
JOULES_PER_KWH = 3_600_000


def joules_per_thousand(joules: float, tokens: int) -> float:
    """Joules per 1,000 tokens (NaN without tokens or energy)."""
    return joules / tokens * 1000 if tokens > 0 and math.isfinite(joules) else math.nan


@dataclass(frozen=True)
class ModelCost(Figures):
    """One model served in one namespace (model ``""``: the namespace's GPU time no model accounts for)."""

    cluster: str
    namespace: str
    model: str
    lines: tuple[Line, ...]
    prefill_share: float = math.nan  # share of the model's GPU time spent in prefill
    p95_ttft_s: float = math.nan
    energy_joules: float = math.nan  # the model's pods' GPU energy (the energy per 1,000 tokens rule)

    @property
    def name(self) -> str:
        """The model, or "(not attributed to a model)"."""
        return self.model or NOT_ATTRIBUTED

    @property
    def model_energy_kwh(self) -> float:
        """The model's pods' GPU energy in kWh."""
        return self.energy_joules / JOULES_PER_KWH

    @property
    def joules_per_thousand_tokens(self) -> float:
        """GPU joules per 1,000 tokens (prompt + generated)."""
        return joules_per_thousand(self.energy_joules, self.tokens)

    @property
    def input_cost(self) -> Decimal:
        """The prefill part of the charged cost."""
        share = self.prefill_share
        return (self.cost * Decimal(repr(share))).quantize(Decimal("0.01")) if math.isfinite(share) else ZERO

    @property
    def input_per_mtok(self) -> float:
        """Charged cost of prefill per million prompt tokens."""
        return per_mtok(self.input_cost, self.prompt_tokens) if math.isfinite(self.prefill_share) else math.nan

    @property
    def output_per_mtok(self) -> float:
        """Charged cost of decode per million generated tokens."""
        if not math.isfinite(self.prefill_share):
            return math.nan
        return per_mtok(self.cost - self.input_cost, self.generation_tokens)


@dataclass(frozen=True)
class NamespaceCost(Figures):
    """One namespace of one cluster over the week, with its models."""

    cluster: str
    namespace: str
    lines: tuple[Line, ...]
    models: tuple[ModelCost, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # kube-state-metrics' keys, "label_" dropped
    p95_ttft_s: float = math.nan
    observed_hours: float = WEEK_HOURS

    def label(self, key: str) -> str:
        """The value of the namespace label ``key`` (as written in Kubernetes), or ""."""
        return self.labels.get(label_key(key), "")

    def energy_cost(self, prices: PriceList) -> Decimal | None:
        """Its energy priced (None without an energy price)."""
        if prices.energy_kwh is None:
            return None
        return sum((ln.energy_cost(prices) or ZERO for ln in self.lines), ZERO)

    @property
    def unattributed(self) -> ModelCost | None:
        """The part of its GPU time no model accounts for, if any."""
        return next((m for m in self.models if not m.model), None)

    @property
    def joules_per_thousand_tokens(self) -> float:
        """Its models' GPU joules per 1,000 of its tokens."""
        joules = [m.energy_joules for m in self.models if math.isfinite(m.energy_joules)]
        return joules_per_thousand(sum(joules), self.tokens) if joules else math.nan


@dataclass(frozen=True)
class TenantCost(Figures):
    """One tenant (the llm-d router's fairness_id) of one namespace; tenant ``""``: no tenant reported."""

    cluster: str
    namespace: str
    tenant: str
    lines: tuple[Line, ...]
    namespace_cost: Decimal
    router_tokens: float = math.nan  # the tokens the router counted for the tenant

    @property
    def name(self) -> str:
        """The tenant, or "(no tenant reported)"."""
        return self.tenant or NO_TENANT

    @property
    def share(self) -> float:
        """Its part of its namespace's cost."""
        return ratio(float(self.cost), float(self.namespace_cost))


@dataclass(frozen=True)
class AdapterCost(Figures):
    """One LoRA adapter of one model; adapter ``""``: the model's time no adapter was running."""

    cluster: str
    namespace: str
    model: str
    adapter: str
    lines: tuple[Line, ...]
    model_cost: Decimal

    @property
    def name(self) -> str:
        """The adapter, or "(no adapter running)"."""
        return self.adapter or NO_ADAPTER

    @property
    def share(self) -> float:
        """Its part of its model's cost."""
        return ratio(float(self.cost), float(self.model_cost))


@dataclass(frozen=True)
class Group(Figures):
    """Namespaces added up by the value of one namespace label (a team, a cost centre)."""

    key: str
    value: str  # "" = namespaces without the label
    namespaces: tuple[NamespaceCost, ...]
    lines: tuple[Line, ...]

    @property
    def name(self) -> str:
        """The label value, or "(no <key> label)"."""
        return self.value or f"(no {self.key} label)"


@dataclass(frozen=True)
class IdleGpu:
    """A GPU (or the unheld part of it) that nobody held: a saving if it is given back or packed."""

    cluster: str
    gpu_uuid: str
    node: str
    gpu_model: str
    idle_gpu_hours: float
    idle_cost: Decimal


@dataclass(frozen=True)
class PodUtilization:
    """A pod holding GPUs that stayed under the utilization threshold."""

    cluster: str
    namespace: str
    pod: str
    gpu_hours: float
    utilization: float
    cost: float

    @property
    def unused_cost(self) -> float:
        """The part of its cost the GPUs spent not busy: what packing it would save."""
        return self.cost * (1 - self.utilization)


@dataclass(frozen=True)
class SilentPod:
    """A pod that held GPUs all week without reporting a vLLM model (why cost is not attributed to one)."""

    cluster: str
    namespace: str
    pod: str
    gpu_hours: float


@dataclass(frozen=True)
class DailyPoint:
    """One value of one series on one day (day = index 0..6 from Monday)."""

    day: int
    value: float


def _group(lines: Iterable[Line], *, by: str) -> dict[Key, list[Line]]:
    out: dict[Key, list[Line]] = {}
    for ln in lines:
        k: Key = (ln.cluster, ln.namespace) if by == "namespace" else (ln.cluster, ln.namespace, ln.model)
        out.setdefault(k, []).append(ln)
    return out


def format_hours(hours: float) -> str:
    """Recorded hours as the report writes them: whole hours plainly (168), others to 0.01 h (165.83)."""
    return f"{round(hours, 2):.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class CostReport:
    """Everything the weekly report shows."""

    week: IsoWeek
    currency: str
    idle_policy: IdlePolicy
    prices: PriceList
    lines: tuple[Line, ...]
    coverage: Mapping[str, float]  # cluster -> hours of the week recorded (an hour recorded in part, in part)
    observed_hours: float = WEEK_HOURS  # hours in which any cluster recorded
    rule_interval_s: int = 60
    low_utilization_threshold: float = 0.3
    team_keys: tuple[str, ...] = ()
    namespace_labels: Mapping[Key, Mapping[str, str]] = field(default_factory=dict)
    ns_observed_hours: Mapping[Key, float] = field(default_factory=dict)
    p95_ttft: Mapping[Key, float] = field(default_factory=dict)  # (cluster, namespace)
    model_p95_ttft: Mapping[Key, float] = field(default_factory=dict)  # (cluster, namespace, model)
    prefill_share: Mapping[Key, float] = field(default_factory=dict)  # (cluster, namespace, model)
    model_energy: Mapping[Key, float] = field(default_factory=dict)  # (cluster, namespace, model) -> joules
    tenant_namespaces: frozenset[Key] = frozenset()  # (cluster, namespace) whose lines are split by tenant
    tenant_tokens: Mapping[Key, float] = field(default_factory=dict)  # (cluster, namespace, tenant), router's
    adapter_models: frozenset[Key] = frozenset()  # (cluster, namespace, model) whose lines are split by adapter
    idle_gpus: tuple[IdleGpu, ...] = ()
    low_utilization: tuple[PodUtilization, ...] = ()
    silent_pods: tuple[SilentPod, ...] = ()
    comparison: Comparison | None = None
    # cluster -> hour of the week (0 = Monday 00:00 UTC) resting on a gap -> the share of it recorded:
    # hours between the recording's first and last, not recorded in full (Prometheus down or
    # restarting, rule evaluations missed; inferwatch.slo.cost.ledger.WeekData.gap_hours)
    gap_hours: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    recorded_gpu_cost: float = math.nan  # the level-1 cost series over the week: a price-change check
    daily_cost: Mapping[Key, list[DailyPoint]] = field(default_factory=dict)  # (cluster, namespace)
    daily_per_mtok: Mapping[Key, list[DailyPoint]] = field(default_factory=dict)  # (cluster, ns, model)
    daily_utilization: Mapping[Key, list[DailyPoint]] = field(default_factory=dict)  # (cluster, namespace)
    daily_p95_ttft: Mapping[Key, list[DailyPoint]] = field(default_factory=dict)  # (cluster, namespace)

    @property
    def period_hours(self) -> int:
        """Hours in the week."""
        return WEEK_HOURS

    @property
    def clusters(self) -> tuple[str, ...]:
        """Every cluster in the report."""
        return tuple(sorted(self.coverage))

    @property
    def full_coverage(self) -> bool:
        """Every cluster had data for every hour of the week."""
        full = WEEK_HOURS - 1e-6
        return all(h >= full for h in self.coverage.values()) and self.observed_hours >= full and not self.gap_hours

    @cached_property
    def namespaces(self) -> tuple[NamespaceCost, ...]:
        """Every namespace with GPU time or tokens, by cluster and name, with its models."""
        models_of: dict[Key, list[ModelCost]] = {}
        for (cluster, ns, model), lines in sorted(_group(self.lines, by="model").items()):
            if all(ln.kind is LineKind.IDLE for ln in lines):
                continue
            models_of.setdefault((cluster, ns), []).append(
                ModelCost(
                    cluster,
                    ns,
                    model,
                    tuple(lines),
                    self.prefill_share.get((cluster, ns, model), math.nan),
                    self.model_p95_ttft.get((cluster, ns, model), math.nan),
                    self.model_energy.get((cluster, ns, model), math.nan) if model else math.nan,
                )
            )
        return tuple(
            NamespaceCost(
                cluster,
                ns,
                tuple(lines),
                tuple(sorted(models_of.get((cluster, ns), []), key=lambda m: (m.model == "", m.model))),
                self.namespace_labels.get((cluster, ns), {}),
                self.p95_ttft.get((cluster, ns), math.nan),
                self.ns_observed_hours.get((cluster, ns), 0),
            )
            for (cluster, ns), lines in sorted(_group(self._charged, by="namespace").items())
        )

    @property
    def _charged(self) -> list[Line]:
        return [ln for ln in self.lines if ln.kind is not LineKind.IDLE]

    @cached_property
    def tenants(self) -> tuple[TenantCost, ...]:
        """Each tenant of each namespace the router reports tenants for, "no tenant reported" last."""
        by: dict[Key, list[Line]] = {}
        for ln in self._charged:
            if (ln.cluster, ln.namespace) in self.tenant_namespaces:
                by.setdefault((ln.cluster, ln.namespace, ln.tenant), []).append(ln)
        costs = {(ns.cluster, ns.namespace): ns.cost for ns in self.namespaces}
        return tuple(
            TenantCost(c, ns, t, tuple(lines), costs[(c, ns)], self.tenant_tokens.get((c, ns, t), math.nan))
            for (c, ns, t), lines in sorted(by.items(), key=lambda kv: (kv[0][:2], kv[0][2] == "", kv[0][2]))
        )

    @cached_property
    def adapters(self) -> tuple[AdapterCost, ...]:
        """Each LoRA adapter of each model that ran adapters, "no adapter running" last."""
        by: dict[Key, list[Line]] = {}
        for ln in self._charged:
            if (ln.cluster, ln.namespace, ln.model) in self.adapter_models:
                by.setdefault((ln.cluster, ln.namespace, ln.model, ln.adapter), []).append(ln)
        costs = {(m.cluster, m.namespace, m.model): m.cost for m in self.models}
        return tuple(
            AdapterCost(c, ns, m, a, tuple(lines), costs[(c, ns, m)])
            for (c, ns, m, a), lines in sorted(by.items(), key=lambda kv: (kv[0][:3], kv[0][3] == "", kv[0][3]))
        )

    def groups(self, key: str) -> tuple[Group, ...]:
        """Namespaces added up by their label ``key`` (namespaces without it last)."""
        members: dict[str, list[NamespaceCost]] = {}
        for ns in self.namespaces:
            members.setdefault(ns.label(key), []).append(ns)
        return tuple(
            Group(key, value, tuple(nss), tuple(ln for ns in nss for ln in ns.lines))
            for value, nss in sorted(members.items(), key=lambda kv: (kv[0] == "", kv[0]))
        )

    @property
    def bill(self) -> Bill:
        """The week's whole ledger and what it adds up to."""
        return Bill(self.lines)

    @property
    def idle_lines(self) -> tuple[Line, ...]:
        """GPU time nobody held, per cluster and GPU model."""
        return self.bill.idle_lines

    @property
    def total_cost(self) -> Decimal:
        """The GPU bill: every line."""
        return self.bill.total_cost

    @property
    def total_gpu_hours(self) -> Decimal:
        """Every GPU-hour: held and idle."""
        return self.bill.total_gpu_hours

    @property
    def idle_cost(self) -> Decimal:
        """What the GPU time nobody held cost."""
        return self.bill.idle_cost

    @property
    def idle_gpu_hours(self) -> Decimal:
        """GPU-hours nobody held."""
        return self.bill.idle_gpu_hours

    @property
    def attributed_cost(self) -> Decimal:
        """The cost of the GPU time namespaces held (without idle shares)."""
        return self.bill.allocated_cost

    @property
    def reported_idle_cost(self) -> Decimal:
        """Idle cost left on its own line (0 when shared out)."""
        return self.bill.reported_idle_cost

    @property
    def unused_cost(self) -> Decimal:
        """What GPU time held but not busy cost."""
        return self.bill.unused_cost

    @property
    def savings(self) -> Decimal:
        """Idle + held-but-unused: what would be saved."""
        return self.bill.savings

    @property
    def tokens(self) -> int:
        """Every token served."""
        return self.bill.tokens

    @property
    def per_mtok(self) -> float:
        """The whole GPU bill (idle included) per million tokens served."""
        return self.bill.bill_per_mtok

    @property
    def idle_ratio(self) -> float:
        """Idle cost / the whole GPU bill."""
        return self.bill.idle_ratio

    @property
    def models(self) -> tuple[ModelCost, ...]:
        """Every (namespace, model) row, the not-attributed parts included."""
        return tuple(m for ns in self.namespaces for m in ns.models)

    @cached_property
    def model_by_key(self) -> Mapping[Key, ModelCost]:
        """Each model row by (cluster, namespace, model)."""
        return {(m.cluster, m.namespace, m.model): m for m in self.models}

    @property
    def price_note(self) -> str:
        """A warning when the recorded GPU cost differs from the GPU-hours priced at today's price list."""
        # GPUs an exporter describes (the requested-only ones have no GPU model and are not in that series).
        priced = float(total([ln for ln in self.lines if ln.sku.gpu_model]))
        recorded = self.recorded_gpu_cost
        if not (math.isfinite(recorded) and priced > 0 and self.observed_hours > 0):
            return ""
        # Each rule level lags the one before by up to an evaluation: allow three evaluations of slack.
        slack = 0.01 + 3 * self.rule_interval_s / 3600 / self.observed_hours
        if abs(recorded - priced) <= slack * priced:
            return ""
        return (
            f"The recorded GPU cost series add up to {recorded:,.2f} {self.currency}, the GPU-hours priced at the "
            f"current price list to {priced:,.2f}: did a price change during the week? This report prices the "
            "whole week at the current price list."
        )
