"""What every format of the report says, in order: notes, the summary, the tables, the savings.

One layout for the HTML page, the Markdown summary and (shortened) the Slack message: the
sentences and tables are built here from the model, as plain text; each writer only escapes and
places them. Every money figure is a sum of ledger lines, so each table's rows add up to the
summary's figure (a table cut to its first rows says what the rest add up to).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.columns import (
    ADAPTER_COLUMNS,
    GROUP_COLUMNS,
    IDLE_GPU_COLUMNS,
    LOW_UTILIZATION_COLUMNS,
    MODEL_CHANGE_COLUMNS,
    MODEL_COLUMNS,
    NAMESPACE_CHANGE_COLUMNS,
    TENANT_COLUMNS,
    WASTE_COLUMNS,
    Kind,
    Table,
    display,
    namespace_columns,
    table,
)
from inferwatch.slo.cost.compare import Comparison
from inferwatch.slo.cost.ledger import ZERO
from inferwatch.slo.cost.model import (
    NO_ADAPTER,
    NO_TENANT,
    NOT_ATTRIBUTED,
    WEEK_HOURS,
    Bill,
    CostReport,
    NamespaceCost,
    format_hours,
)
from inferwatch.slo.cost.queries import P95_TTFT_QUANTILE

TABLE_ROWS = 20  # rows of the savings tables; the rest are added up in a note
MIN_IDLE_GPU_HOURS = 1.0  # idle GPUs listed one by one: at least an hour unheld in the week


def money(v: Decimal | float) -> str:
    """An amount to the cent with thousands separators."""
    return display(Kind.MONEY, v)


def _hours_by_cluster(hours: Mapping[str, float]) -> str:
    return ", ".join(f"{c} {format_hours(h)} h" for c, h in sorted(hours.items()))


GAP_RUNS_SHOWN = 10  # stretches of gap hours named one by one in the note; the rest are counted


def _runs(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive hours as (first, last) stretches."""
    runs: list[tuple[int, int]] = []
    for h in sorted(hours):
        if runs and h == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return runs


def gap_note(report: CostReport) -> str:
    """Which hours rest on a gap in the cost recording, and how much of them was recorded; "" without gaps."""
    if not report.gap_hours:
        return ""
    several = len(report.coverage) > 1
    parts: list[str] = []
    for cluster, hours in sorted(report.gap_hours.items()):
        for first, last in _runs(hours):
            start = report.week.start + timedelta(hours=first)
            end = report.week.start + timedelta(hours=last + 1)
            recorded = sum(hours[h] for h in range(first, last + 1))
            parts.append(
                f"{f'{cluster} ' if several else ''}{start:%a %Y-%m-%d %H:%M} to {end:%H:%M} "
                f"({format_hours(recorded)} of {last - first + 1} h recorded)"
            )
    more = len(parts) - GAP_RUNS_SHOWN
    shown = "; ".join(parts[:GAP_RUNS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return (
        "The cost recording has gaps (Prometheus down or restarting, or rule evaluations missed), UTC: "
        f"{shown}. The GPU time within a gap was not recorded and no counter keeps it, so every figure over "
        "those hours (the week's, and those days') rests on a gap: it misses that time, it does not estimate it."
    )


def coverage_note(report: CostReport) -> str:
    """The sentence every format opens with when a cluster's week is not fully recorded, naming its gaps."""
    if report.full_coverage:
        return ""
    pct = report.observed_hours / WEEK_HOURS * 100
    text = (
        f"Partial week: data for {format_hours(report.observed_hours)} of {WEEK_HOURS} hours ({pct:.1f} %)"
        + (f" (per cluster: {_hours_by_cluster(report.coverage)})" if len(report.coverage) > 1 else "")
        + ". Every figure is what was observed in those hours, not extrapolated to the week."
    )
    gaps = gap_note(report)
    return f"{text} {gaps}" if gaps else text


def comparison_note(report: CostReport) -> str:
    """How this week is compared with the previous one: over the hours both recorded in full, and which."""
    comp = report.comparison
    if comp is None:
        return "No data for the previous week: nothing to compare with."
    label = comp.previous_week.label
    if comp.full:
        return f"Week over week: {report.week.label} against {label}, both with data for every hour."
    several = len(comp.hours) > 1 or len(comp.previous_coverage) > 1
    had = (
        f"hours per cluster ({_hours_by_cluster(comp.previous_coverage)})"
        if several
        else f"{format_hours(sum(comp.previous_coverage.values()))} of {WEEK_HOURS} hours"
    )
    per_cluster = f" (per cluster: {_hours_by_cluster(comp.hours)})" if several else ""
    return (
        f"Week over week, like with like: {label} has data for {had}, so both weeks are compared over the "
        f"{comp.compared_hours} hours of the week that both recorded in full{per_cluster} (the same weekdays and "
        "hours). A namespace is new only if it had no cost in those hours of the previous week."
    )


def idle_text(report: CostReport) -> str:
    """What happened to the cost of GPU time nobody held."""
    policy = (
        "its own line"
        if report.idle_policy is IdlePolicy.SEPARATE
        else "shared over namespaces by their GPU cost (FOCUS: split into their rows)"
    )
    return f"idle (GPU time nobody held) {money(report.idle_cost)} {report.currency}, {policy}"


def savings_text(report: CostReport) -> str:
    """The savings in one sentence: idle + held-but-unused, as in the summary."""
    cur = report.currency
    share = display(Kind.RATIO, float(report.savings) / float(report.total_cost) if report.total_cost else float("nan"))
    return (
        f"{money(report.savings)} {cur} ({share} of the bill) would be saved by giving back idle GPUs "
        f"({money(report.idle_cost)} {cur}) and by packing held GPUs to full use: GPU time held but not busy "
        f"({money(report.unused_cost)} {cur}, GPU-hours held x (1 - utilization), priced)"
    )


def unattributed_note(report: CostReport) -> str:
    """Why part of a namespace's cost is on no model, and how much."""
    rows = [m for m in report.models if not m.model and m.cost > 0]
    if not rows:
        return ""
    amount = sum((m.cost for m in rows), ZERO)
    text = (
        f"{NOT_ATTRIBUTED}: {money(amount)} {report.currency} of GPU time held by pods while they reported no "
        "vLLM model (pods that are not vLLM servers, or the minutes before a vLLM pod's first scrape and after its "
        "last); a namespace's models and this line add up to the namespace."
    )
    silent = report.silent_pods
    if silent:
        shown = ", ".join(f"{p.namespace}/{p.pod} ({p.gpu_hours:,.1f} GPU-h)" for p in silent[:10])
        more = f" and {len(silent) - 10} more" if len(silent) > 10 else ""
        text += f" Pods that held GPUs all week without vLLM metrics: {shown}{more}."
    return text


def tenant_note(report: CostReport) -> str:
    """What "no tenant reported" is, how much it was, and how tenants add up."""
    rows = report.tenants
    if not rows:
        return ""
    whole = sum((t.cost for t in rows), ZERO)
    rest = sum((t.cost for t in rows if not t.tenant), ZERO)
    cur = report.currency
    return (
        f"Tenants are the llm-d router's fairness_id (the x-llm-d-inference-fairness-id header); each pays its "
        f"namespace's cost by its share of the namespace's tokens, evaluation by evaluation. {NO_TENANT}: "
        f"{money(rest)} {cur} of {money(whole)} {cur} — tokens of requests without the header (the router's "
        "default-flow), past the router's 1,000-tenant cap (other), or that did not pass through the router. "
        "A namespace's tenants and this row add up to the namespace."
    )


def adapter_note(report: CostReport) -> str:
    """How adapters are charged: vLLM names running adapters but does not count their requests."""
    if not report.adapters:
        return ""
    return (
        "LoRA adapters from vLLM's running-adapter list: vLLM names the adapters with running requests but does "
        "not count them, so each running adapter pays an equal share of its pod while it runs (an approximation, "
        f"docs/cost.md). {NO_ADAPTER}: the model's GPU time while no adapter ran. A model's adapters and this row "
        "add up to the model."
    )


@dataclass(frozen=True)
class Figure:
    """One headline figure: this week, and (when compared) both weeks over the compared hours."""

    label: str
    kind: Kind
    value: Callable[[Bill], Decimal | float | int]


def _figures(report: CostReport) -> list[Figure]:
    cur = report.currency
    return [
        Figure(f"total GPU spend ({cur})", Kind.MONEY, lambda b: b.total_cost),
        Figure(f"of which idle: GPU time nobody held ({cur})", Kind.MONEY, lambda b: b.idle_cost),
        Figure(f"of which held but not busy ({cur})", Kind.MONEY, lambda b: b.unused_cost),
        Figure(f"savings: idle + held but not busy ({cur})", Kind.MONEY, lambda b: b.savings),
        Figure(f"{cur} per 1M tokens (whole bill / all tokens)", Kind.PER_MTOK, lambda b: b.bill_per_mtok),
        Figure("idle share of the bill", Kind.RATIO, lambda b: b.idle_ratio),
        Figure("GPU-hours", Kind.HOURS, lambda b: b.total_gpu_hours),
        Figure("tokens", Kind.COUNT, lambda b: b.tokens),
    ]


def _change(kind: Kind, now: Decimal | float | int, before: Decimal | float | int) -> str:
    n, b = float(now), float(before)
    if kind is Kind.RATIO:
        return "n/a" if n != n or b != b else f"{(n - b) * 100:+.1f} points"
    if b == 0:
        return "new" if n > 0 else "n/a"
    return display(Kind.SIGNED_RATIO, (n - b) / b)


def summary_table(report: CostReport) -> Table:
    """The headline figures; against the previous week over the hours both weeks have data for."""
    comp = report.comparison
    figures = _figures(report)
    bill = report.bill
    rows: tuple[tuple[str, ...], ...]
    if comp is None:
        rows = tuple((f.label, display(f.kind, f.value(bill))) for f in figures)
        return Table("summary", "Summary", ("figure", "this week"), (False, True), rows)
    now, before = comp.current_bill, comp.previous_bill
    label = comp.previous_week.label
    if comp.full:
        headers: tuple[str, ...] = ("figure", "this week", label, "change")
        rows = tuple(
            (
                f.label,
                display(f.kind, f.value(bill)),
                display(f.kind, f.value(before)),
                _change(f.kind, f.value(now), f.value(before)),
            )
            for f in figures
        )
    else:
        h = comp.compared_hours
        headers = (
            "figure",
            f"this week (all {format_hours(report.observed_hours)} h)",
            f"this week, {h} compared h",
            f"{label}, {h} compared h",
            "change",
        )
        rows = tuple(
            (
                f.label,
                display(f.kind, f.value(bill)),
                display(f.kind, f.value(now)),
                display(f.kind, f.value(before)),
                _change(f.kind, f.value(now), f.value(before)),
            )
            for f in figures
        )
    return Table("summary", "Summary", headers, (False, *([True] * (len(headers) - 1))), rows, comparison_note(report))


def _decimal(v: Decimal | float) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(f"{v:.2f}")


def _limited(rows: Sequence[Any], cost: Callable[[Any], Decimal | float], currency: str) -> tuple[list[Any], str]:
    shown = list(rows[:TABLE_ROWS])
    rest = rows[TABLE_ROWS:]
    if not rest:
        return shown, ""
    return shown, f"… and {len(rest)} more ({money(sum((_decimal(cost(r)) for r in rest), ZERO))} {currency})."


def _idle_table(report: CostReport) -> Table:
    cur = report.currency
    listed = [g for g in report.idle_gpus if g.idle_gpu_hours >= MIN_IDLE_GPU_HOURS]
    short = [g for g in report.idle_gpus if g.idle_gpu_hours < MIN_IDLE_GPU_HOURS]
    shown, note = _limited(listed, lambda g: g.idle_cost, cur)
    if short:
        note += f" {len(short)} GPU(s) idle under an hour each: {money(sum((g.idle_cost for g in short), ZERO))} {cur}."
    note += f" All idle GPU time: {money(report.idle_cost)} {cur}."
    return table("idle_gpus", "Idle GPUs (GPU time nobody held)", IDLE_GPU_COLUMNS, shown, cur, note.strip())


def _waste_table(report: CostReport) -> Table:
    cur = report.currency
    rows = sorted(
        (m for m in report.models if m.unused_cost > 0), key=lambda m: (-m.unused_cost, m.cluster, m.namespace, m.model)
    )
    shown, note = _limited(rows, lambda m: m.unused_cost, cur)
    note += f" All GPU time held but not busy: {money(report.unused_cost)} {cur}."
    return table("waste", "GPU time held but not busy, by namespace and model", WASTE_COLUMNS, shown, cur, note.strip())


def _by_cost(report: CostReport) -> list[NamespaceCost]:
    return sorted(report.namespaces, key=lambda x: (-x.cost, x.cluster, x.namespace))


def tables(report: CostReport) -> list[Table]:
    """Every table of the report, in the order the formats show them."""
    cur = report.currency
    comp: Comparison | None = report.comparison
    out = [summary_table(report)]
    if comp is not None:
        hours = f"{comp.compared_hours} compared hours" if not comp.full else "whole weeks"
        out.append(
            table(
                "ns_changes",
                f"Namespaces that moved most ({hours})",
                NAMESPACE_CHANGE_COLUMNS,
                comp.namespace_changes(),
                cur,
            )
        )
        out.append(
            table("model_changes", f"Models that moved most ({hours})", MODEL_CHANGE_COLUMNS, comp.model_changes(), cur)
        )
    for key in report.team_keys:
        note = ""
        if comp is not None:
            moved = comp.group_changes(key)
            if moved:
                note = (
                    "Moved most: "
                    + "; ".join(f"{ch.name} {display(Kind.SIGNED_MONEY, ch.delta)} {cur}" for ch in moved)
                    + "."
                )
        out.append(
            table(f"group:{key}", f"Cost by namespace label {key}", GROUP_COLUMNS, report.groups(key), cur, note)
        )
    out.append(table("namespaces", "Namespaces", namespace_columns(report), _by_cost(report), cur))
    out.append(table("models", "Models", MODEL_COLUMNS, report.models, cur, unattributed_note(report)))
    if report.tenants:
        out.append(table("tenants", "Cost by tenant", TENANT_COLUMNS, report.tenants, cur, tenant_note(report)))
    if report.adapters:
        out.append(
            table("adapters", "Cost by LoRA adapter", ADAPTER_COLUMNS, report.adapters, cur, adapter_note(report))
        )
    out.append(_waste_table(report))
    out.append(_idle_table(report))
    low, low_note = _limited(report.low_utilization, lambda p: p.unused_cost, cur)
    out.append(
        table(
            "low_utilization",
            f"Pods whose GPUs stayed under {report.low_utilization_threshold * 100:g} % utilization",
            LOW_UTILIZATION_COLUMNS,
            low,
            cur,
            low_note,
        )
    )
    return out


def notes(report: CostReport) -> list[str]:
    """The warnings every format opens with (coverage, a price change), empty when there are none."""
    return [n for n in (coverage_note(report), report.price_note) if n]


def intro(report: CostReport) -> str:
    """The sentence under the title: the week, the clusters, the coverage, what idle is."""
    clusters = ", ".join(report.clusters)
    return (
        f"Week {report.week.start:%Y-%m-%d} to {report.week.end:%Y-%m-%d} (UTC, end exclusive); "
        f"cluster(s) {clusters}; data for {format_hours(report.observed_hours)} of {WEEK_HOURS} hours; "
        f"{idle_text(report)}; "
        f"P{P95_TTFT_QUANTILE * 100:g} TTFT beside cost"
    )
