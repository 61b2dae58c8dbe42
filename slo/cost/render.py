"""Rendering the weekly cost report: self-contained HTML with inline SVG charts, Markdown, FOCUS CSV.

Everything here is a pure function of a CostReport: no clock, no environment, so a re-run for
the same week produces byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from inferwatch.slo.cost.report import CostReport, DailyPoint
from inferwatch.slo.cost.week import IsoWeek

from inferwatch.config.pricing import IdlePolicy

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
IDLE_ACCOUNT = "(idle)"
SERVICE_NAME = "inferwatch GPU inference"
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_TOP = 12  # namespaces shown by name in charts; the rest are summed as "other"

FOCUS_COLUMNS = (
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingUnit",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_AllocatedGpuHours",
    "x_BusyGpuHours",
    "x_Utilization",
    "x_UsageCost",
    "x_IdleShare",
    "x_EnergyKwh",
    "x_EnergyCost",
    "x_PromptTokens",
    "x_GenerationTokens",
    "x_CostPerMillionTokens",
    "x_UsageCostPerMillionTokens",
)


def report_paths(out: Path, week: IsoWeek) -> dict[str, Path]:
    """Where the report's files go: ``cost-report-<week>.{html,md,csv}`` under ``out``."""
    stem = f"cost-report-{week.label}"
    return {ext: out / f"{stem}.{ext}" for ext in ("html", "md", "csv")}


def _num(v: float, digits: int = 4) -> str:
    """A fixed-precision number; empty for NaN (FOCUS: null)."""
    return "" if not math.isfinite(v) else f"{v:.{digits}f}"


def _money(v: float, currency: str) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:,.2f} {currency}"


def _iso(dt: object) -> str:
    return f"{dt:%Y-%m-%dT%H:%M:%SZ}"


def render_csv(report: CostReport) -> str:
    """A CSV shaped like FinOps FOCUS: one row per namespace (and an idle row when kept apart)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FOCUS_COLUMNS)
    start, end = _iso(report.week.start), _iso(report.week.end)
    period = [start, end, start, end]
    for ns in report.namespaces:
        tags = json.dumps({"inferwatch/models": ",".join(m.model for m in ns.models)}, sort_keys=True)
        writer.writerow(
            [
                *period,
                "Usage",
                f"GPU time held by namespace {ns.namespace}",
                _num(ns.cost),
                _num(ns.cost),
                report.currency,
                _num(ns.allocated_gpu_hours),
                "GPU-Hours",
                "GPU-Hour",
                f"namespace/{ns.namespace}",
                ns.namespace,
                "Kubernetes Namespace",
                "AI and Machine Learning",
                SERVICE_NAME,
                ns.namespace,
                ns.namespace,
                tags,
                _num(ns.allocated_gpu_hours),
                _num(ns.busy_gpu_hours),
                _num(ns.utilization),
                _num(ns.usage_cost),
                _num(ns.idle_share),
                _num(ns.energy_kwh),
                _num(ns.energy_cost),
                _num(ns.prompt_tokens, 0),
                _num(ns.generation_tokens, 0),
                _num(ns.per_mtok),
                _num(ns.usage_per_mtok),
            ]
        )
    if report.idle_policy is IdlePolicy.SEPARATE:
        writer.writerow(
            [
                *period,
                "Usage",
                "GPU time nobody held",
                _num(report.idle_cost),
                _num(report.idle_cost),
                report.currency,
                _num(report.idle_gpu_hours),
                "GPU-Hours",
                "GPU-Hour",
                "cluster/idle",
                IDLE_ACCOUNT,
                "GPU",
                "AI and Machine Learning",
                SERVICE_NAME,
                IDLE_ACCOUNT,
                IDLE_ACCOUNT,
                "{}",
                _num(report.idle_gpu_hours),
                "",
                "",
                "",
                _num(report.idle_cost),
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return buf.getvalue()


def render_markdown(report: CostReport) -> str:
    """A short Markdown summary: totals, namespaces, models."""
    cur = report.currency
    lines = [
        f"# GPU cost report {report.week.label}",
        "",
        f"Week {report.week.start:%Y-%m-%d} to {report.week.end:%Y-%m-%d} (UTC, end exclusive).",
        "",
        f"- Cluster GPU cost: **{_money(report.total_cost, cur)}** over {report.total_gpu_hours:,.1f} GPU-hours",
        f"- Held by namespaces: {_money(report.attributed_cost, cur)}",
        f"- Idle (GPU time nobody held): {_money(report.idle_cost, cur)} "
        f"({_pct(report.idle_cost / report.total_cost if report.total_cost else math.nan)}), "
        + ("reported separately" if report.idle_policy is IdlePolicy.SEPARATE else "shared by GPU-cost weight"),
        "",
        "## Namespaces",
        "",
        f"| namespace | cost ({cur}) | GPU-hours | utilization | {cur}/1M tokens | usage-based {cur}/1M | "
        "tokens | P95 TTFT |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ns in sorted(report.namespaces, key=lambda x: (-x.cost, x.namespace)):
        lines.append(
            f"| {ns.namespace} | {ns.cost:,.2f} | {ns.allocated_gpu_hours:,.1f} | {_pct(ns.utilization)} | "
            f"{_num(ns.per_mtok, 2) or 'n/a'} | {_num(ns.usage_per_mtok, 2) or 'n/a'} | {ns.tokens:,.0f} | "
            f"{_seconds(ns.p95_ttft_s)} |"
        )
    lines += [
        "",
        "## Models",
        "",
        f"| namespace | model | {cur}/1M tokens | input {cur}/1M | output {cur}/1M | prompt tokens | "
        "generation tokens |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for ns in report.namespaces:
        for m in ns.models:
            lines.append(
                f"| {m.namespace} | {m.model} | {_num(m.per_mtok, 2) or 'n/a'} | {_num(m.input_per_mtok, 2) or 'n/a'} "
                f"| {_num(m.output_per_mtok, 2) or 'n/a'} | {m.prompt_tokens:,.0f} | {m.generation_tokens:,.0f} |"
            )
    lines.append("")
    return "\n".join(lines)


def _pct(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v * 100:.1f} %"


def _seconds(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.2f} s"


def slack_summary(report: CostReport) -> dict[str, str]:
    """A short Slack-compatible message (``{"text": …}``) for the webhook."""
    cur = report.currency
    top = sorted(report.namespaces, key=lambda x: (-x.cost, x.namespace))[:5]
    lines = [
        f"*GPU cost {report.week.label}*: {_money(report.total_cost, cur)} "
        f"({report.total_gpu_hours:,.0f} GPU-hours, idle {_money(report.idle_cost, cur)})",
        *(
            f"• {ns.namespace}: {_money(ns.cost, cur)}, {_num(ns.per_mtok, 2) or 'n/a'} {cur}/1M tokens, "
            f"utilization {_pct(ns.utilization)}"
            for ns in top
        ),
    ]
    return {"text": "\n".join(lines)}


# --- SVG charts ----------------------------------------------------------------------------------


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _bar_chart(title: str, items: Sequence[tuple[str, float]], unit: str) -> str:
    """A horizontal bar chart."""
    width, bar_h, left = 720, 22, 200
    height = 40 + bar_h * len(items)
    top = max((v for _, v in items if math.isfinite(v)), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, v) in enumerate(items):
        y = 30 + i * bar_h
        w = 0.0 if not math.isfinite(v) else (width - left - 110) * v / top
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{_color(i)}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_num(v, 2)} {escape(unit)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _line_chart(title: str, series: Sequence[tuple[str, Sequence[DailyPoint]]], unit: str) -> str:
    """A line chart over the week's days, one line per series, with a legend."""
    left, bottom, top_pad, legend_w = 60, 30, 30, 300
    height = max(260, top_pad + 16 * len(series) + bottom)
    width = 480 + legend_w
    values = [p.value for _, pts in series for p in pts if math.isfinite(p.value)]
    vmax = max(values, default=0.0) or 1.0
    plot_w, plot_h = width - left - legend_w, height - bottom - top_pad

    def xy(p: DailyPoint) -> str:
        x = left + plot_w * p.day / 6
        y = top_pad + plot_h * (1 - p.value / vmax)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)} ({escape(unit)})</text>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{_num(vmax, 2)}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end">0</text>',
    ]
    for d, name in enumerate(DAYS):
        parts.append(f'<text x="{left + plot_w * d / 6:.1f}" y="{height - 8}" text-anchor="middle">{name}</text>')
    for i, (label, pts) in enumerate(series):
        finite = [p for p in pts if math.isfinite(p.value)]
        if finite:
            points = " ".join(xy(p) for p in finite)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{_color(i)}" stroke-width="2"/>')
        ly = top_pad + 16 * i
        parts.append(f'<rect x="{left + plot_w + 16}" y="{ly}" width="10" height="10" fill="{_color(i)}"/>')
        parts.append(f'<text x="{left + plot_w + 30}" y="{ly + 10}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _top_namespaces(report: CostReport) -> list[str]:
    return [ns.namespace for ns in sorted(report.namespaces, key=lambda x: (-x.cost, x.namespace))[:_TOP]]


def render_html(report: CostReport) -> str:
    """A self-contained HTML page (inline CSS and SVG; no scripts, no external resources)."""
    cur = report.currency
    top = _top_namespaces(report)
    others = sum(ns.cost for ns in report.namespaces if ns.namespace not in top)
    bars = [(ns, next(x.cost for x in report.namespaces if x.namespace == ns)) for ns in top]
    if others > 0:
        bars.append((f"other ({len(report.namespaces) - len(top)})", others))
    if report.idle_policy is IdlePolicy.SEPARATE:
        bars.append((IDLE_ACCOUNT, report.idle_cost))
    per_mtok = [(f"{ns}/{model}", pts) for (ns, model), pts in sorted(report.daily_per_mtok.items()) if ns in top]
    util = [(ns, report.daily_utilization.get(ns, [])) for ns in top]
    ttft = [(ns, report.daily_p95_ttft.get(ns, [])) for ns in top]
    md_rows = "\n".join(
        f"<tr><td>{escape(ns.namespace)}</td><td>{ns.cost:,.2f}</td><td>{ns.allocated_gpu_hours:,.1f}</td>"
        f"<td>{_pct(ns.utilization)}</td><td>{_seconds(ns.p95_ttft_s)}</td><td>{_num(ns.per_mtok, 2) or 'n/a'}</td>"
        f"<td>{_num(ns.usage_per_mtok, 2) or 'n/a'}</td><td>{ns.tokens:,.0f}</td></tr>"
        for ns in sorted(report.namespaces, key=lambda x: (-x.cost, x.namespace))
    )
    model_rows = "\n".join(
        f"<tr><td>{escape(m.namespace)}</td><td>{escape(m.model)}</td><td>{_num(m.per_mtok, 2) or 'n/a'}</td>"
        f"<td>{_num(m.input_per_mtok, 2) or 'n/a'}</td><td>{_num(m.output_per_mtok, 2) or 'n/a'}</td>"
        f"<td>{m.prompt_tokens:,.0f}</td><td>{m.generation_tokens:,.0f}</td></tr>"
        for ns in report.namespaces
        for m in ns.models
    )
    title = f"GPU cost report {report.week.label}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child, td:nth-child(2) {{ text-align: left; }}
svg {{ display: block; margin: 1em 0; font-size: 12px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1em; }}
</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p>{report.week.start:%Y-%m-%d} to {report.week.end:%Y-%m-%d} (UTC, end exclusive).
Cluster GPU cost <b>{escape(_money(report.total_cost, cur))}</b> over {report.total_gpu_hours:,.1f} GPU-hours;
held by namespaces {escape(_money(report.attributed_cost, cur))}; idle {escape(_money(report.idle_cost, cur))}
({"reported separately" if report.idle_policy is IdlePolicy.SEPARATE else "shared by GPU-cost weight"}).</p>
{_bar_chart(f"Cost by namespace ({cur})", bars, cur)}
{_line_chart(f"{cur} per 1M tokens by namespace/model, per day", per_mtok, f"{cur}/1M tokens")}
<div class="charts">
{_line_chart("GPU utilization (busy / held), per day", util, "ratio")}
{_line_chart("P95 time to first token, per day", ttft, "s")}
</div>
<h2>Namespaces</h2>
<table>
<tr><th>namespace</th><th>cost ({cur})</th><th>GPU-hours</th><th>utilization</th><th>P95 TTFT</th>
<th>{cur}/1M tokens</th><th>usage-based {cur}/1M</th><th>tokens</th></tr>
{md_rows}
</table>
<h2>Models</h2>
<table>
<tr><th>namespace</th><th>model</th><th>{cur}/1M tokens</th><th>input {cur}/1M</th><th>output {cur}/1M</th>
<th>prompt tokens</th><th>generation tokens</th></tr>
{model_rows}
</table>
</body>
</html>
"""
