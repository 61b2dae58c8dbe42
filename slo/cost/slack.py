"""The webhook's Slack-compatible summary of the weekly report: the same figures, shortened.

Every name is escaped (``&``, ``<``, ``>`` as entities: no links, no @-mentions) and kept on one
line; the figures are those of the report's summary, savings, teams and movers
(inferwatch.slo.cost.layout).
"""

from __future__ import annotations

import re

from inferwatch.slo.cost.columns import Kind, change_ratio, display
from inferwatch.slo.cost.layout import comparison_note, money, notes, savings_text, summary_table
from inferwatch.slo.cost.model import CostReport

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TOP = 3  # lines per list


def slack_escape(text: str) -> str:
    """Text safe in a Slack message: ``&``, ``<``, ``>`` as entities (no links, no @-mentions), one line."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(_CONTROL.sub("\ufffd", text).split())


def slack_summary(report: CostReport) -> dict[str, str]:
    """The webhook's message (``{"text": …}``): notes, summary, savings, teams, movers, top idle GPUs and waste."""
    cur = report.currency
    lines = [f"*GPU cost {report.week.label}*"]
    lines += [f":warning: {slack_escape(n)}" for n in notes(report)]
    summary = summary_table(report)
    comp = report.comparison
    for row in summary.rows:
        figure = f"• {slack_escape(row[0])}: *{row[1]}*"
        if comp is not None and comp.full:
            figure += f" ({comp.previous_week.label} {row[2]}, {row[3]})"
        elif comp is not None:
            figure += f" (in the {comp.compared_hours} compared hours {row[2]} against {row[3]}, {row[4]})"
        lines.append(figure)
    lines.append(slack_escape(comparison_note(report)))
    lines.append(f"Savings: {slack_escape(savings_text(report))}")
    for key in report.team_keys:
        groups = sorted(report.groups(key), key=lambda g: -g.cost)
        lines.append(f"By {slack_escape(key)}:")
        lines += [f"• {slack_escape(g.name)}: {money(g.cost)} {cur}" for g in groups[:TOP]]
    if comp is not None:
        changes = [*comp.namespace_changes()[:TOP], *comp.model_changes()[:TOP]]
        if changes:
            lines.append("Moved most (compared hours):")
            lines += [
                f"• {slack_escape(ch.cluster + '/' + ch.name)}: {display(Kind.SIGNED_MONEY, ch.delta)} {cur} "
                f"({display(Kind.SIGNED_RATIO, change_ratio(ch))})"
                for ch in changes
            ]
    if report.idle_gpus:
        lines.append("Idle GPUs:")
    lines += [
        f"• {slack_escape(g.cluster)}/{slack_escape(g.node or 'unknown')} {slack_escape(g.gpu_model)}: "
        f"{display(Kind.HOURS, g.idle_gpu_hours)} h, {money(g.idle_cost)} {cur}"
        for g in report.idle_gpus[:TOP]
    ]
    waste = sorted((m for m in report.models if m.unused_cost > 0), key=lambda m: -m.unused_cost)
    if waste:
        lines.append("Held but not busy:")
    lines += [
        f"• {slack_escape(m.cluster + '/' + m.namespace + '/' + m.name)}: "
        f"{display(Kind.RATIO, m.utilization)} busy, {money(m.unused_cost)} {cur}"
        for m in waste[:TOP]
    ]
    return {"text": "\n".join(lines)}
