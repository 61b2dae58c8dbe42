"""The report's columns, each defined once: header, kind (how it is formatted) and value.

The HTML template, the Markdown writer, the Slack summary and the FOCUS CSV's ``x_`` columns all
read these definitions; a writer decides only how to escape a cell, never what goes into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from inferwatch.slo.cost.focus import DataType
from inferwatch.slo.cost.model import Change, CostReport, IdleGpu, ModelCost, NamespaceCost, PodUtilization

R = TypeVar("R")


class Kind(StrEnum):
    """How a value is shown (and what FOCUS data type its CSV column has)."""

    TEXT = "text"
    MONEY = "money"
    PER_MTOK = "per_mtok"
    HOURS = "hours"
    RATIO = "ratio"
    COUNT = "count"
    SECONDS = "seconds"
    SIGNED_MONEY = "signed_money"
    SIGNED_RATIO = "signed_ratio"


def sig_decimals(v: float, significant: int = 3, minimum: int = 2) -> int:
    """Decimals that show ``v`` with at least ``significant`` significant digits (and ``minimum`` decimals)."""
    if not math.isfinite(v) or v == 0:
        return minimum
    return max(minimum, significant - 1 - math.floor(math.log10(abs(v))))


def display(kind: Kind, v: float | str) -> str:
    """A value as people read it: thousands separators, units, 'n/a' for unknown."""
    if isinstance(v, str):
        return v
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
    if kind is Kind.RATIO:
        return f"{v * 100:.1f} %"
    if kind is Kind.SIGNED_RATIO:
        return f"{v * 100:+.1f} %"
    if kind is Kind.COUNT:
        return f"{v:,.0f}"
    if kind is Kind.SECONDS:
        return f"{v:.2f} s"
    return str(v)


_CSV_DECIMALS = {Kind.MONEY: 4, Kind.PER_MTOK: 6, Kind.HOURS: 4, Kind.RATIO: 4, Kind.COUNT: 0, Kind.SECONDS: 4}


def csv_number(v: float, decimals: int) -> str:
    """FOCUS NumericFormat: fixed-point, no exponent, no separators; empty (null) when unknown."""
    if not math.isfinite(v):
        return ""
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def csv_value(kind: Kind, v: float | str) -> str:
    """A value as the CSV holds it."""
    if isinstance(v, str):
        return v
    return csv_number(v, _CSV_DECIMALS.get(kind, 4))


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header (``{cur}`` is the currency), kind, value, and its FOCUS CSV name."""

    header: str
    kind: Kind
    value: Callable[[R], float | str]
    csv: str = ""  # the x_ column of the FOCUS CSV ("" = not in the CSV)
    shown: bool = True  # in the HTML and Markdown tables

    def title(self, currency: str) -> str:
        """The header with the currency filled in."""
        return self.header.replace("{cur}", currency)

    @property
    def numeric(self) -> bool:
        """Right-aligned in tables."""
        return self.kind is not Kind.TEXT

    @property
    def data_type(self) -> DataType:
        """FOCUS data type of the CSV column."""
        return DataType.STRING if self.kind is Kind.TEXT else DataType.DECIMAL


NAMESPACE_COLUMNS: tuple[Column[NamespaceCost], ...] = (
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("GPU-hours", Kind.HOURS, lambda r: r.allocated_gpu_hours),
    Column("busy GPU-hours", Kind.HOURS, lambda r: r.busy_gpu_hours, "x_BusyGpuHours", shown=False),
    Column("utilization", Kind.RATIO, lambda r: r.utilization, "x_Utilization"),
    Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok, "x_CostPerMillionTokens"),
    Column("usage-based {cur}/1M", Kind.PER_MTOK, lambda r: r.usage_per_mtok, "x_UsageCostPerMillionTokens"),
    Column("usage-based cost ({cur})", Kind.MONEY, lambda r: r.usage_cost, "x_UsageCost", shown=False),
    Column("idle share ({cur})", Kind.MONEY, lambda r: r.idle_share, "x_IdleShare", shown=False),
    Column("prompt tokens", Kind.COUNT, lambda r: r.prompt_tokens, "x_PromptTokens", shown=False),
    Column("generation tokens", Kind.COUNT, lambda r: r.generation_tokens, "x_GenerationTokens", shown=False),
    Column("tokens", Kind.COUNT, lambda r: r.tokens),
    Column("energy (kWh)", Kind.HOURS, lambda r: r.energy_kwh, "x_EnergyKwh", shown=False),
    Column("energy cost ({cur})", Kind.MONEY, lambda r: r.energy_cost, "x_EnergyCost", shown=False),
    Column("P95 TTFT", Kind.SECONDS, lambda r: r.p95_ttft_s, "x_P95TimeToFirstTokenSeconds"),
    Column("hours with data", Kind.COUNT, lambda r: float(r.observed_hours), "x_ObservedHours"),
)

MODEL_COLUMNS: tuple[Column[ModelCost], ...] = (
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("model", Kind.TEXT, lambda r: r.model),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("{cur}/1M tokens", Kind.PER_MTOK, lambda r: r.per_mtok),
    Column("input {cur}/1M", Kind.PER_MTOK, lambda r: r.input_per_mtok),
    Column("output {cur}/1M", Kind.PER_MTOK, lambda r: r.output_per_mtok),
    Column("prompt tokens", Kind.COUNT, lambda r: r.prompt_tokens),
    Column("generation tokens", Kind.COUNT, lambda r: r.generation_tokens),
)

IDLE_GPU_COLUMNS: tuple[Column[IdleGpu], ...] = (
    Column("node", Kind.TEXT, lambda r: r.node or "unknown"),
    Column("GPU model", Kind.TEXT, lambda r: r.gpu_model),
    Column("GPU", Kind.TEXT, lambda r: r.gpu_uuid),
    Column("idle GPU-hours", Kind.HOURS, lambda r: r.idle_gpu_hours),
    Column("idle cost ({cur})", Kind.MONEY, lambda r: r.idle_cost),
)

LOW_UTILIZATION_COLUMNS: tuple[Column[PodUtilization], ...] = (
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("pod", Kind.TEXT, lambda r: r.pod),
    Column("GPU-hours", Kind.HOURS, lambda r: r.gpu_hours),
    Column("average utilization", Kind.RATIO, lambda r: r.utilization),
    Column("cost ({cur})", Kind.MONEY, lambda r: r.cost),
    Column("cost of unused time ({cur})", Kind.MONEY, lambda r: r.unused_cost),
)

CHANGE_RATIO: Column[Change] = Column("change", Kind.SIGNED_RATIO, lambda r: r.ratio if r.previous else "new")
_CHANGE_VALUES: tuple[Column[Change], ...] = (
    Column("previous week ({cur})", Kind.MONEY, lambda r: r.previous),
    Column("this week ({cur})", Kind.MONEY, lambda r: r.current),
    Column("change ({cur})", Kind.SIGNED_MONEY, lambda r: r.delta),
    CHANGE_RATIO,
)
NAMESPACE_CHANGE_COLUMNS: tuple[Column[Change], ...] = (
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    *_CHANGE_VALUES,
)
MODEL_CHANGE_COLUMNS: tuple[Column[Change], ...] = (
    Column("namespace", Kind.TEXT, lambda r: r.namespace),
    Column("model", Kind.TEXT, lambda r: r.model),
    *_CHANGE_VALUES,
)


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
    """Lay ``rows`` out under the shown ``columns``."""
    shown = [col for col in columns if col.shown]
    return Table(
        key,
        title,
        tuple(col.title(currency) for col in shown),
        tuple(col.numeric for col in shown),
        tuple(tuple(display(col.kind, col.value(row)) for col in shown) for row in rows),
        note,
    )


@dataclass(frozen=True)
class Figure:
    """One headline figure against the previous week."""

    label: str
    current: str
    previous: str
    change: str


def _change(kind: Kind, now: float, before: float | None) -> str:
    if before is None or not math.isfinite(now) or not math.isfinite(before):
        return "n/a"
    if kind is Kind.RATIO:
        return f"{(now - before) * 100:+.1f} points"
    return display(Kind.SIGNED_RATIO, (now - before) / before) if before else "n/a"


def summary_figures(report: CostReport) -> tuple[Figure, ...]:
    """Total spend, $ per 1M tokens and idle share, each against the previous week."""
    cur = report.currency
    prev = report.previous
    rows: list[tuple[str, Kind, float, float | None]] = [
        (f"total GPU spend ({cur})", Kind.MONEY, report.total_cost, prev.total_cost if prev else None),
        (
            f"{cur} per 1M tokens (whole bill / all tokens)",
            Kind.PER_MTOK,
            report.per_mtok,
            prev.per_mtok if prev else None,
        ),
        ("idle share of the bill", Kind.RATIO, report.idle_ratio, prev.idle_ratio if prev else None),
        ("GPU-hours", Kind.HOURS, report.total_gpu_hours, prev.total_gpu_hours if prev else None),
        ("tokens", Kind.COUNT, report.tokens, prev.tokens if prev else None),
    ]
    return tuple(
        Figure(
            label,
            display(kind, now),
            display(kind, before) if before is not None else "no data",
            _change(kind, now, before),
        )
        for label, kind, now, before in rows
    )


def coverage_note(report: CostReport) -> str:
    """The sentence every format opens with when the week (or the one compared with) is not fully covered."""
    notes = []
    if not report.full_coverage:
        pct = report.observed_hours / report.period_hours * 100
        notes.append(
            f"Partial week: data for {report.observed_hours} of {report.period_hours} hours ({pct:.1f} %). "
            "Every figure is what was observed in those hours, not extrapolated to the week."
        )
    prev = report.previous
    if prev is not None and not prev.full_coverage:
        notes.append(
            f"The previous week {prev.week.label} had data for {prev.observed_hours} of {prev.period_hours} hours, "
            "so changes against it compare unequal spans."
        )
    return " ".join(notes)
