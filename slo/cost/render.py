"""Rendering the weekly cost report: one HTML page (Jinja2, inline matplotlib SVG), Markdown, the FOCUS set.

Everything here is a pure function of a CostReport: no clock, no environment, so a re-run for
the same week produces byte-identical files. What the report says and in which order is
inferwatch.slo.cost.layout; each writer only escapes for its format: Jinja2 autoescape for
HTML, ``md_cell`` for Markdown, ``csv.DictWriter`` for CSV (inferwatch.slo.cost.focus_csv),
``slack_escape`` for Slack (inferwatch.slo.cost.slack). The FOCUS CSV is validated against its
version's rules before anything is published: a file that breaks them is an inferwatch bug and
is never written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from inferwatch.config.pricing import IdlePolicy
from inferwatch.slo.cost.charts import bar_chart, line_chart
from inferwatch.slo.cost.focus import check_focus_csv
from inferwatch.slo.cost.focus_csv import FocusIdentity, custom_column_types, render_csv, render_metadata
from inferwatch.slo.cost.layout import intro, notes, savings_text, tables
from inferwatch.slo.cost.model import CostReport, NamespaceCost
from inferwatch.slo.cost.publish import publish_set
from inferwatch.slo.cost.week import IsoWeek

IDLE_BAR = "idle (nobody held)"
CHART_NAMESPACES = 12  # namespaces shown by name in charts; the rest are summed as "other"
FORMATS = ("html", "md", "csv", "focus-metadata.json")


def report_name(week: IsoWeek) -> str:
    """The report set's folder name: ``cost-report-<week>``."""
    return f"cost-report-{week.label}"


def report_files(week: IsoWeek) -> dict[str, str]:
    """File name of each format inside the report set's folder."""
    stem = report_name(week)
    return {ext.split(".")[0]: f"{stem}.{ext}" for ext in FORMATS}


def report_paths(out: Path, week: IsoWeek) -> dict[str, Path]:
    """Where the report's files are readable: ``<out>/cost-report-<week>/cost-report-<week>.{html,md,csv,…}``."""
    folder = out / report_name(week)
    return {key: folder / name for key, name in report_files(week).items()}


def render_set(report: CostReport, who: FocusIdentity) -> dict[str, str]:
    """Every file of the report set by key (html, md, csv, focus-metadata), the CSV validated."""
    names = report_files(report.week)
    csv_text = render_csv(report, who)
    check_focus_csv(csv_text, who.version, custom_column_types())
    return {
        "html": render_html(report),
        "md": render_markdown(report),
        "csv": csv_text,
        "focus-metadata": render_metadata(report, who, names["csv"]),
    }


def publish_report(out: Path, report: CostReport, who: FocusIdentity) -> dict[str, Path]:
    """Render the report in every format and publish the set under ``out`` all-or-nothing; where each file is."""
    names = report_files(report.week)
    files = render_set(report, who)
    publish_set(out, report_name(report.week), {names[key]: text for key, text in files.items()})
    return report_paths(out, report.week)


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


def _md_table(headers: Sequence[str], numeric: Sequence[bool], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---:" if num else "---" for num in numeric) + "|")
    return lines + ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in rows]


def render_markdown(report: CostReport) -> str:
    """The report in Markdown: notes, the summary against the previous week, the savings, every table."""
    lines = [f"# GPU cost report {report.week.label}", ""]
    for note in notes(report):
        lines += [f"> **{md_cell(note)}**", ""]
    lines += [f"{md_cell(intro(report))}.", ""]
    for i, t in enumerate(tables(report)):
        lines += [f"## {md_cell(t.title)}", ""]
        if t.key == "summary" and t.note:
            lines += [md_cell(t.note), ""]
        lines += [*(_md_table(t.headers, t.numeric, t.rows) if t.rows else ["None."]), ""]
        if t.note and t.key != "summary":
            lines += [md_cell(t.note), ""]
        if i == 0:
            lines += [f"Savings: {md_cell(savings_text(report))}.", ""]
    lines.append(f"All amounts in {report.currency}.")
    return "\n".join(lines) + "\n"


# --- HTML -----------------------------------------------------------------------------------------

_ENV = Environment(
    loader=PackageLoader("inferwatch.slo.cost", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True, default=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _label(ns: NamespaceCost, clusters: int) -> str:
    return f"{ns.cluster}/{ns.namespace}" if clusters > 1 else ns.namespace


def _charts(report: CostReport) -> list[Markup]:
    cur = report.currency
    n = len(report.clusters)
    ranked = sorted(report.namespaces, key=lambda x: (-x.cost, x.cluster, x.namespace))
    top = ranked[:CHART_NAMESPACES]
    names = {(ns.cluster, ns.namespace) for ns in top}
    bars: list[tuple[str, Any]] = [(_label(ns, n), ns.cost) for ns in top]
    others = ranked[CHART_NAMESPACES:]
    if others:
        bars.append((f"other ({len(others)})", sum(ns.cost for ns in others)))
    if report.idle_policy is IdlePolicy.SEPARATE:
        bars.append((IDLE_BAR, report.reported_idle_cost))

    def points(values: Sequence[Any]) -> list[tuple[int, float]]:
        return [(p.day, p.value) for p in values]

    def name(key: tuple[str, ...]) -> str:
        return "/".join(key[1:] if n == 1 else key)

    per_mtok = [(name(k), points(pts)) for k, pts in sorted(report.daily_per_mtok.items()) if k[:2] in names]
    util = [(_label(ns, n), points(report.daily_utilization.get((ns.cluster, ns.namespace), []))) for ns in top]
    ttft = [(_label(ns, n), points(report.daily_p95_ttft.get((ns.cluster, ns.namespace), []))) for ns in top]
    # The SVG comes from matplotlib, which escapes every text it writes; it is markup, not user text.
    return [
        Markup(bar_chart("cost", f"Cost by namespace ({cur}), the bill", [(k, float(v)) for k, v in bars], cur)),
        Markup(
            line_chart(
                "permtok",
                f"{cur} per 1M tokens by namespace/model, per day",
                per_mtok[:CHART_NAMESPACES],
                f"{cur}/1M tokens",
            )
        ),
        Markup(line_chart("util", "GPU utilization (busy / held), per day", util, "ratio")),
        Markup(line_chart("ttft", "P95 time to first token, per day", ttft, "seconds")),
    ]


def render_html(report: CostReport) -> str:
    """One self-contained HTML page (inline CSS and SVG; no scripts, no external resources)."""
    return _ENV.get_template("report.html.j2").render(
        report=report,
        title=f"GPU cost report {report.week.label}",
        notes=notes(report),
        intro=intro(report),
        savings_text=savings_text(report),
        tables=tables(report),
        charts=_charts(report),
    )
