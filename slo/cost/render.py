"""Rendering the weekly cost report: one HTML page (Jinja2, inline matplotlib SVG), Markdown, FOCUS CSV, Slack text.

Everything here is a pure function of a CostReport: no clock, no environment, so a re-run for
the same week produces byte-identical files. What a cell holds comes from the column spec
(inferwatch.slo.cost.columns); each writer only escapes for its format: Jinja2 autoescape for
HTML, ``md_cell`` for Markdown, ``csv.DictWriter`` for CSV, ``slack_escape`` for Slack.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from inferwatch.config.pricing import IdlePolicy, Pricing
from inferwatch.slo.cost.charts import bar_chart, line_chart
from inferwatch.slo.cost.columns import (
    CHANGE_RATIO,
    IDLE_GPU_COLUMNS,
    LOW_UTILIZATION_COLUMNS,
    MODEL_CHANGE_COLUMNS,
    MODEL_COLUMNS,
    NAMESPACE_CHANGE_COLUMNS,
    NAMESPACE_COLUMNS,
    Kind,
    Table,
    coverage_note,
    csv_number,
    csv_value,
    display,
    summary_figures,
    table,
)
from inferwatch.slo.cost.focus import DataType
from inferwatch.slo.cost.model import WEEK_HOURS, CostReport, NamespaceCost
from inferwatch.slo.cost.publish import publish_set
from inferwatch.slo.cost.week import IsoWeek

IDLE_ACCOUNT = "(idle)"
SERVICE_NAME = "GPU inference (vLLM on Kubernetes)"
SERVICE_CATEGORY = "AI and Machine Learning"
GPU_HOURS_UNIT = "GPU-Hours"  # FOCUS UnitFormat: <singular-base-unit>-<plural-base-unit>
CHART_NAMESPACES = 12  # namespaces shown by name in charts; the rest are summed as "other"
SAVINGS_ROWS = 20  # rows of each savings table; the rest are summed in a note

# The FOCUS 1.2 columns the CSV carries (every Mandatory one, and the Conditional ones that apply).
FOCUS_COLUMNS = (
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "ContractedCost",
    "ContractedUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "InvoiceIssuerName",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
)
# inferwatch's own columns: the namespace columns that name one, then these.
X_MODEL_COSTS = "x_ModelCosts"  # {"<model>": charged cost, …}
X_CLUSTER_OBSERVED_HOURS = "x_ClusterObservedHours"
X_PERIOD_HOURS = "x_PeriodHours"


def csv_columns() -> tuple[str, ...]:
    """The CSV header: FOCUS columns, then inferwatch's ``x_`` columns."""
    own = tuple(col.csv for col in NAMESPACE_COLUMNS if col.csv)
    return (*FOCUS_COLUMNS, *own, X_MODEL_COSTS, X_CLUSTER_OBSERVED_HOURS, X_PERIOD_HOURS)


def custom_column_types() -> dict[str, DataType]:
    """FOCUS data type of each ``x_`` column (for the validator)."""
    types = {col.csv: col.data_type for col in NAMESPACE_COLUMNS if col.csv}
    types.update(
        {X_MODEL_COSTS: DataType.JSON, X_CLUSTER_OBSERVED_HOURS: DataType.DECIMAL, X_PERIOD_HOURS: DataType.DECIMAL}
    )
    return types


def report_name(week: IsoWeek) -> str:
    """The report set's folder name: ``cost-report-<week>``."""
    return f"cost-report-{week.label}"


def report_files(week: IsoWeek) -> dict[str, str]:
    """File name of each format inside the report set's folder."""
    stem = report_name(week)
    return {ext: f"{stem}.{ext}" for ext in ("html", "md", "csv")}


def report_paths(out: Path, week: IsoWeek) -> dict[str, Path]:
    """Where the report's files are readable: ``<out>/cost-report-<week>/cost-report-<week>.{html,md,csv}``."""
    folder = out / report_name(week)
    return {ext: folder / name for ext, name in report_files(week).items()}


def publish_report(out: Path, week: IsoWeek, report: CostReport, pricing: Pricing) -> dict[str, Path]:
    """Render the report in every format and publish the set under ``out`` all-or-nothing; where each file is."""
    names = report_files(week)
    publish_set(
        out,
        report_name(week),
        {
            names["html"]: render_html(report),
            names["md"]: render_markdown(report),
            names["csv"]: render_csv(report, pricing.billing_account, pricing.provider),
        },
    )
    return report_paths(out, week)


def _iso(dt: datetime) -> str:
    return f"{dt:%Y-%m-%dT%H:%M:%SZ}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    """A name cell safe to open in a spreadsheet: a leading formula character is quoted with ``'``."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _idle_row(report: CostReport) -> NamespaceCost:
    nan = float("nan")
    return NamespaceCost(
        namespace=IDLE_ACCOUNT,
        allocated_gpu_hours=report.idle_gpu_hours,
        busy_gpu_hours=nan,
        allocated_cost=report.idle_cost,
        usage_cost=nan,
        idle_share=0.0,
        energy_kwh=nan,
        energy_cost=nan,
        prompt_tokens=nan,
        generation_tokens=nan,
        p95_ttft_s=nan,
        models=(),
        observed_hours=report.observed_hours,
    )


def _csv_row(report: CostReport, ns: NamespaceCost, idle: bool, billing_account: str, provider: str) -> dict[str, str]:
    cost = csv_number(ns.cost, 4)
    quantity = ns.allocated_gpu_hours
    unit_price = csv_number(ns.cost / quantity, 6) if quantity > 0 else ""
    start, end = _iso(report.week.start), _iso(report.week.end)
    name = _csv_text(ns.namespace)
    row = {
        "BillingAccountId": billing_account,
        "BillingAccountName": billing_account,
        "BillingCurrency": report.currency,
        "BillingPeriodStart": start,
        "BillingPeriodEnd": end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": "GPU time nobody held" if idle else f"GPU time held by namespace {ns.namespace}",
        "ChargeFrequency": "Usage-Based",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ListUnitPrice": unit_price,
        "ContractedCost": cost,
        "ContractedUnitPrice": unit_price,
        "PricingCategory": "Standard",
        "PricingQuantity": csv_number(quantity, 4),
        "PricingUnit": GPU_HOURS_UNIT,
        "ConsumedQuantity": csv_number(quantity, 4),
        "ConsumedUnit": GPU_HOURS_UNIT,
        "InvoiceIssuerName": provider,
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceCategory": SERVICE_CATEGORY,
        "ServiceName": SERVICE_NAME,
        "ResourceId": "cluster/idle" if idle else f"namespace/{ns.namespace}",
        "ResourceName": name,
        "ResourceType": "GPU" if idle else "Kubernetes Namespace",
        "SubAccountId": name,
        "SubAccountName": name,
        "SubAccountType": "Cluster" if idle else "Kubernetes Namespace",
        "Tags": json.dumps({} if idle else {"inferwatch/namespace": ns.namespace}, sort_keys=True),
        X_MODEL_COSTS: json.dumps({m.model: round(m.cost, 4) for m in ns.models}, sort_keys=True),
        X_CLUSTER_OBSERVED_HOURS: str(report.observed_hours),
        X_PERIOD_HOURS: str(WEEK_HOURS),
    }
    for col in NAMESPACE_COLUMNS:
        if col.csv:
            row[col.csv] = csv_value(col.kind, col.value(ns))
    return row


def render_csv(report: CostReport, billing_account: str = "inferwatch", provider: str = "inferwatch") -> str:
    """A FOCUS 1.2 CSV: one Usage row per namespace (and one for idle GPU time when kept apart)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    for ns in report.namespaces:
        writer.writerow(_csv_row(report, ns, False, billing_account, provider))
    if report.idle_policy is IdlePolicy.SEPARATE:
        writer.writerow(_csv_row(report, _idle_row(report), True, billing_account, provider))
    return buf.getvalue()


# --- the shared layout: summary, changes, savings, tables ----------------------------------------


def _by_cost(report: CostReport) -> list[NamespaceCost]:
    return sorted(report.namespaces, key=lambda x: (-x.cost, x.namespace))


def _limited(rows: Sequence[Any], cost: Any, currency: str) -> tuple[list[Any], str]:
    shown = list(rows[:SAVINGS_ROWS])
    rest = rows[SAVINGS_ROWS:]
    note = f"… and {len(rest)} more ({display(Kind.MONEY, sum(cost(r) for r in rest))} {currency})." if rest else ""
    return shown, note


def tables(report: CostReport) -> dict[str, Table]:
    """Every table of the report, keyed, in the order the formats show them."""
    cur = report.currency
    prev = report.previous.week.label if report.previous else "previous week"
    idle, idle_note = _limited(report.idle_gpus, lambda g: g.idle_cost, cur)
    low, low_note = _limited(report.low_utilization, lambda p: p.cost, cur)
    models = [m for ns in report.namespaces for m in ns.models]
    return {
        "ns_changes": table(
            "ns_changes",
            f"Namespaces that moved most (vs {prev})",
            NAMESPACE_CHANGE_COLUMNS,
            report.namespace_changes(),
            cur,
        ),
        "model_changes": table(
            "model_changes", f"Models that moved most (vs {prev})", MODEL_CHANGE_COLUMNS, report.model_changes(), cur
        ),
        "idle_gpus": table("idle_gpus", "Idle GPUs (held by nobody)", IDLE_GPU_COLUMNS, idle, cur, idle_note),
        "low_utilization": table(
            "low_utilization",
            f"Pods whose GPUs stayed under {report.low_utilization_threshold * 100:g} % utilization",
            LOW_UTILIZATION_COLUMNS,
            low,
            cur,
            low_note,
        ),
        "namespaces": table("namespaces", "Namespaces", NAMESPACE_COLUMNS, _by_cost(report), cur),
        "models": table("models", "Models", MODEL_COLUMNS, models, cur),
    }


def _idle_text(report: CostReport) -> str:
    policy = "reported separately" if report.idle_policy is IdlePolicy.SEPARATE else "shared by GPU-cost weight"
    return f"idle (GPU time nobody held) {display(Kind.MONEY, report.idle_cost)} {report.currency}, {policy}"


def _savings_text(report: CostReport) -> str:
    cur = report.currency
    return (
        f"idle GPUs cost {display(Kind.MONEY, report.idle_gpu_savings)} {cur}; "
        f"{len(report.low_utilization)} pod(s) under {report.low_utilization_threshold * 100:g} % GPU utilization "
        f"cost {display(Kind.MONEY, report.low_utilization_cost)} {cur}"
    )


# --- Markdown -------------------------------------------------------------------------------------

_MD_ESCAPE = re.compile(r"([\\`*_\[\]|~#!])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def md_cell(text: str) -> str:
    """Text safe in a Markdown table cell: HTML escaped, Markdown punctuation and ``|`` backslashed,
    line breaks as ``<br>``, control characters replaced."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_ESCAPE.sub(r"\\\1", text)
    text = _CONTROL.sub("\ufffd", text)
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def _md_table(t: Table) -> list[str]:
    lines = [f"## {md_cell(t.title)}", ""]
    if not t.rows:
        return [*lines, "None.", ""]
    lines.append("| " + " | ".join(md_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if num else "---" for num in t.numeric) + "|")
    lines += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in t.rows]
    if t.note:
        lines += ["", md_cell(t.note)]
    return [*lines, ""]


def render_markdown(report: CostReport) -> str:
    """The report in Markdown: coverage note, summary against the previous week, changes, savings, tables."""
    cur = report.currency
    note = coverage_note(report)
    prev = report.previous.week.label if report.previous else "previous week"
    lines = [f"# GPU cost report {report.week.label}", ""]
    if note:
        lines += [f"> **{md_cell(note)}**", ""]
    lines += [
        f"Week {report.week.start:%Y-%m-%d} to {report.week.end:%Y-%m-%d} (UTC, end exclusive); "
        f"data for {report.observed_hours} of {report.period_hours} hours; {md_cell(_idle_text(report))}.",
        "",
        "## Summary",
        "",
        f"| figure | this week | {md_cell(prev)} | change |",
        "|---|---:|---:|---:|",
        *(f"| {md_cell(f.label)} | {f.current} | {f.previous} | {f.change} |" for f in summary_figures(report)),
        "",
        f"Savings: {md_cell(_savings_text(report))}.",
        "",
    ]
    for t in tables(report).values():
        lines += _md_table(t)
    lines.append(f"All amounts in {cur}.")
    return "\n".join(lines) + "\n"


# --- HTML -----------------------------------------------------------------------------------------

_ENV = Environment(
    loader=PackageLoader("inferwatch.slo.cost", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _charts(report: CostReport) -> list[Markup]:
    cur = report.currency
    ranked = _by_cost(report)
    top = ranked[:CHART_NAMESPACES]
    names = {ns.namespace for ns in top}
    bars = [(ns.namespace, ns.cost) for ns in top]
    others = ranked[CHART_NAMESPACES:]
    if others:
        bars.append((f"other ({len(others)})", sum(ns.cost for ns in others)))
    if report.idle_policy is IdlePolicy.SEPARATE:
        bars.append((IDLE_ACCOUNT, report.idle_cost))

    def points(values: Sequence[Any]) -> list[tuple[int, float]]:
        return [(p.day, p.value) for p in values]

    per_mtok = [
        (f"{ns}/{model}", points(pts)) for (ns, model), pts in sorted(report.daily_per_mtok.items()) if ns in names
    ][:CHART_NAMESPACES]
    util = [(ns.namespace, points(report.daily_utilization.get(ns.namespace, []))) for ns in top]
    ttft = [(ns.namespace, points(report.daily_p95_ttft.get(ns.namespace, []))) for ns in top]
    # The SVG comes from matplotlib, which escapes every text it writes; it is markup, not user text.
    return [
        Markup(bar_chart("cost", f"Cost by namespace ({cur})", bars, cur)),
        Markup(line_chart("permtok", f"{cur} per 1M tokens by namespace/model, per day", per_mtok, f"{cur}/1M tokens")),
        Markup(line_chart("util", "GPU utilization (busy / held), per day", util, "ratio")),
        Markup(line_chart("ttft", "P95 time to first token, per day", ttft, "seconds")),
    ]


def render_html(report: CostReport) -> str:
    """One self-contained HTML page (inline CSS and SVG; no scripts, no external resources)."""
    return _ENV.get_template("report.html.j2").render(
        report=report,
        title=f"GPU cost report {report.week.label}",
        note=coverage_note(report),
        idle_text=_idle_text(report),
        savings_text=_savings_text(report),
        previous_label=report.previous.week.label if report.previous else "previous week",
        figures=summary_figures(report),
        tables=list(tables(report).values()),
        charts=_charts(report),
    )


# --- Slack ----------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Text safe in a Slack message: ``&``, ``<``, ``>`` as entities (no links, no @-mentions), one line."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(_CONTROL.sub("\ufffd", text).split())


def slack_summary(report: CostReport) -> dict[str, str]:
    """The webhook's Slack-compatible message (``{"text": …}``): the same figures as the report's summary."""
    cur = report.currency
    lines = [f"*GPU cost {report.week.label}*"]
    note = coverage_note(report)
    if note:
        lines.append(f":warning: {slack_escape(note)}")
    for f in summary_figures(report):
        lines.append(f"• {slack_escape(f.label)}: *{f.current}* (previous {f.previous}, {f.change})")
    changes = [*report.namespace_changes()[:3], *report.model_changes()[:3]]
    if changes:
        lines.append("Moved most:")
        lines += [
            f"• {slack_escape(ch.namespace + ('/' + ch.model if ch.model else ''))}: "
            f"{display(Kind.SIGNED_MONEY, ch.delta)} {cur} ({display(CHANGE_RATIO.kind, CHANGE_RATIO.value(ch))})"
            for ch in changes
        ]
    lines.append(f"Savings: {slack_escape(_savings_text(report))}")
    lines += [
        f"• idle {slack_escape(g.node or 'unknown')} {slack_escape(g.gpu_model)}: "
        f"{display(Kind.HOURS, g.idle_gpu_hours)} h, {display(Kind.MONEY, g.idle_cost)} {cur}"
        for g in report.idle_gpus[:3]
    ]
    lines += [
        f"• {slack_escape(p.namespace)}/{slack_escape(p.pod)}: {display(Kind.RATIO, p.utilization)} busy, "
        f"{display(Kind.MONEY, p.cost)} {cur}"
        for p in report.low_utilization[:3]
    ]
    return {"text": "\n".join(lines)}
