"""The report's columns, each defined once: header, kind (how it is formatted) and value.

The HTML template, the Markdown writer and the Slack summary read these definitions; a writer
decides only how to escape a cell, never what goes into it. Money is shown to the cent and every
money cell is a sum of ledger lines (inferwatch.slo.cost.ledger), so a table's rows add up to the
figure above it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from inferwatch.slo.cost.compare import Change
from inferwatch.slo.cost.model import (
    AdapterCost,
    CostReport,
    Group,
    IdleGpu,
    ModelCost,
    NamespaceCost,
    PodUtilization,
    TenantCost,
    format_hours,
)

R = TypeVar("R")
Value = float | int | Decimal | str | None


class Kind(StrEnum):
    """How a value is shown."""

    TEXT = "text"
    MONEY = "money"
    JOULES = "joules"
    PER_MTOK = "per_mtok"
    HOURS = "hours"
    RATIO = "ratio"
    COUNT = "count"
    RECORDED_HOURS = "recorded_hours"  # hours the cost rules recorded: whole hours plainly, others to 0.01 h
    SECONDS = "seconds"
    SIGNED_MONEY = "signed_money"
    SIGNED_RATIO = "signed_ratio"


def sig_decimals(v: float, significant: int = 3, minimum: int = 2) -> int:
    """Decimals that show ``v`` with at least ``significant`` significant digits (and ``minimum`` decimals)."""
    if not math.isfinite(v) or v == 0:
        return minimum
    return max(minimum, significant - 1 - math.floor(math.log10(abs(v))))


def display(kind: Kind, v: Value) -> str:
    """A value as people read it: thousands separators, units, 'n/a' for unknown."""
    if isinstance(v, str):
        return v
    if v is None:
        return "n/a"
    if isinstance(v, Decimal):
        if kind is Kind.MONEY:
            return f"{v:,.2f}"
        if kind is Kind.SIGNED_MONEY:
            return f"{v:+,.2f}"
        v = float(v)
    if not math.isfinite(v):
        return "n/a"
    if kind is Kind.MONEY:
        return f"{v:,.2f}"
    if kind is Kind.SIGNED_MONEY:
        return f"{v:+,.2f}"
    if kind is Kind.PER_MTOK:
        return f"{v:,.{sig_decimals(v)}f}"
    if kind is Kind.HOURS:
        return f"{v:,.1f}"
    if kind is Kind.JOULES:
        return f"{v:,.0f}"
    if kind is Kind.RATIO:
        return f"{v * 100:.1f} %"
    if kind is Kind.SIGNED_RATIO:
        return f"{v * 100:+.1f} %"
    if kind is Kind.COUNT:
        return f"{v:,.0f}"
    if kind is Kind.RECORDED_HOURS:
        return format_hours(v)
    if kind is Kind.SECONDS:
        return f"{v:.2f} s"
    return str(v)


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header (``{cur}`` is the currency), kind and value."""

    header: str
    kind: Kind
    value: Callable[[R], Value]

    def title(self, currency: str) -> str:
        """The header with the currency filled in."""
        return self.header.replace("{cur}", currency)

    @property
    def numeric(self) -> bool:
        """Right-aligned in tables."""
        return self.kind is not Kind.TEXT


def _energy(report: CostReport) -> Callable[[NamespaceCost], Value]:
    return lambda r: r.energy_cost(report.prices)


def namespace_columns(report: CostReport) -> tuple[Column[NamespaceCost], ...]:
    """The namespace table: cost, waste, price per token, energy and latency; the configured team labels."""

    def team(key: str) -> Column[NamespaceCost]:
        return Column(key, Kind.TEXT, lambda r: r.label(key))

    teams = tuple(team(key) for key in report.team_keys)
    idle_share: Column[NamespaceCost] = Column("idle share ({cur})", Kind.MONEY, lambda r: r.idle_share)
    share = (idle_share,) if report.reported_idle_cost == 0 and report.idle_cost > 0 else ()
    energy = (
        (Column("energy cost ({cur})", Kind.MONEY, _energy(report)),) if report.prices.energy_kwh is not None else ()
    )
    return (
        Column("cluster", Kind.TEXT, lambda r: r.cluster),
        Column("namespace", Kind.TEXT, lambda r: r.namespace),
        *teams,
        Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
        *share,
        Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
        Column("utilization", Kind.RATIO, lambda r: r.utilization),
        Column("held but unused ({cur})", Kind.MONEY, lambda r: r.unused_cost),
        Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok),
        Column("usage-based {cur}/1M", Kind.PER_MTOK, lambda r: r.usage_per_mtok),
        Column("tokens", Kind.COUNT, lambda r: r.tokens),
        Column("energy (kWh)", Kind.HOURS, lambda r: r.energy_kwh),
        Column("J/1k tokens", Kind.JOULES, lambda r: r.joules_per_thousand_tokens),
        *energy,
        Column("P95 TTFT", Kind.SECONDS, lambda r: r.p95_ttft_s),
        Column("hours with data", Kind.RECORDED_HOURS, lambda r: r.observed_hours),
    )


MODEL_COLUMNS: tuple[Column[ModelCost], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("model", Kind.TEXT, lambda r: r.name),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok),
    Column("input {cur}/1M", Kind.PER_MTOK, lambda r: r.input_per_mtok),
    Column("output {cur}/1M", Kind.PER_MTOK, lambda r: r.output_per_mtok),
    Column("prompt tokens", Kind.COUNT, lambda r: r.prompt_tokens),
    Column("generation tokens", Kind.COUNT, lambda r: r.generation_tokens),
    Column("energy (kWh)", Kind.HOURS, lambda r: r.model_energy_kwh),
    Column("J/1k tokens", Kind.JOULES, lambda r: r.joules_per_thousand_tokens),
    Column("P95 TTFT", Kind.SECONDS, lambda r: r.p95_ttft_s),
)

TENANT_COLUMNS: tuple[Column[TenantCost], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("tenant", Kind.TEXT, lambda r: r.name),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("share of the namespace", Kind.RATIO, lambda r: r.share),
    Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
    Column("router tokens", Kind.COUNT, lambda r: r.router_tokens),
    Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok),
)

ADAPTER_COLUMNS: tuple[Column[AdapterCost], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("model", Kind.TEXT, lambda r: r.model),
    Column("LoRA adapter", Kind.TEXT, lambda r: r.name),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("share of the model", Kind.RATIO, lambda r: r.share),
    Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
)

WASTE_COLUMNS: tuple[Column[ModelCost], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("model", Kind.TEXT, lambda r: r.name),
    Column("GPU-hours held", Kind.HOURS, lambda r: r.gpu_hours),
    Column("busy GPU-hours", Kind.HOURS, lambda r: r.busy_gpu_hours),
    Column("utilization", Kind.RATIO, lambda r: r.utilization),
    Column("unused GPU-hours", Kind.HOURS, lambda r: r.unused_gpu_hours),
    Column("held but unused ({cur})", Kind.MONEY, lambda r: r.unused_cost),
)

GROUP_COLUMNS: tuple[Column[Group], ...] = (
    Column("value", Kind.TEXT, lambda r: r.name),
    Column("namespaces", Kind.COUNT, lambda r: len(r.namespaces)),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
    Column("held but unused ({cur})", Kind.MONEY, lambda r: r.unused_cost),
    Column("tokens", Kind.COUNT, lambda r: r.tokens),
    Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok),
)

IDLE_GPU_COLUMNS: tuple[Column[IdleGpu], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("node", Kind.TEXT, lambda r: r.node or "unknown"),
    Column("GPU model", Kind.TEXT, lambda r: r.gpu_model or "unknown"),
    Column("GPU", Kind.TEXT, lambda r: r.gpu_uuid),
    Column("idle GPU-hours", Kind.HOURS, lambda r: r.idle_gpu_hours),
    Column("idle cost ({cur})", Kind.MONEY, lambda r: r.idle_cost),
)

LOW_UTILIZATION_COLUMNS: tuple[Column[PodUtilization], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("pod", Kind.TEXT, lambda r: r.pod),
    Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
    Column("average utilization", Kind.RATIO, lambda r: r.utilization),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("held but unused ({cur})", Kind.MONEY, lambda r: r.unused_cost),
)


def change_ratio(ch: Change) -> Value:
    """The relative change, or "new" / "gone" when one side had no cost in the compared hours."""
    return ch.status or ch.ratio


_CHANGE_VALUES: tuple[Column[Change], ...] = (
    Column("previous week ({cur})", Kind.MONEY, lambda r: r.previous),
    Column("this week ({cur})", Kind.MONEY, lambda r: r.current),
    Column("change ({cur})", Kind.SIGNED_MONEY, lambda r: r.delta),
    Column("change", Kind.SIGNED_RATIO, change_ratio),
)
NAMESPACE_CHANGE_COLUMNS: tuple[Column[Change], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace", Kind.TEXT, lambda r: r.name),
    *_CHANGE_VALUES,
)
MODEL_CHANGE_COLUMNS: tuple[Column[Change], ...] = (
    Column("cluster", Kind.TEXT, lambda r: r.cluster),
    Column("namespace/model", Kind.TEXT, lambda r: r.name),
    *_CHANGE_VALUES,
)
GROUP_CHANGE_COLUMNS: tuple[Column[Change], ...] = (Column("value", Kind.TEXT, lambda r: r.name), *_CHANGE_VALUES)


@dataclass(frozen=True)
class Table:
    """A titled table ready for a writer: headers, alignment and display strings (not yet escaped)."""

    key: str
    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def table(
    key: str, title: str, columns: Sequence[Column[R]], rows: Sequence[R], currency: str, note: str = ""
) -> Table:
    """Lay ``rows`` out under ``columns``."""
    return Table(
        key,
        title,
        tuple(col.title(currency) for col in columns),
        tuple(col.numeric for col in columns),
        tuple(tuple(display(col.kind, col.value(row)) for col in columns) for row in rows),
        note,
    )
