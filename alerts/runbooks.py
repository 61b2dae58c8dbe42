"""Runbooks: one Markdown page per alert, written from the same definitions as the rules.

The threshold a runbook quotes is the configured one, because both come from one
AlertDefinition built from the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferwatch.alerts.catalog import RUNBOOK_DIR, AlertDefinition

from inferwatch.conventions import slo


def render_runbook(alert: AlertDefinition, header: str = "") -> str:
    """The Markdown runbook of one alert: meaning, threshold, what to check, what to do, the rule."""
    lines = [
        header,
        f"# {alert.name}\n",
        f"**Severity:** `{alert.severity}` · **Fires when:** {alert.threshold}.\n",
        f"{alert.meaning}\n",
        "## What to check\n",
        *[f"1. {step}" for step in alert.checks],
        "",
        "## What to do\n",
        *[f"- {step}" for step in alert.actions],
        "",
        "## The rule\n",
        "```promql",
        alert.expr.strip(),
        "```",
        "",
        f"Held for `{alert.for_}` before firing." if alert.for_ else "Fires at the first evaluation that matches.",
        "It reads only normalized `inferwatch:*` series (see `inferwatch/conventions/normalized.py`); its "
        "threshold and hold duration come from the `thresholds:` section of inferwatch.yaml.",
        "",
    ]
    return "\n".join(lines)


def render_index(alerts: Sequence[AlertDefinition], header: str = "") -> str:
    """docs/runbooks/README.md: every alert, its severity and threshold, linked to its runbook."""
    rows = [f"| [{a.name}]({a.name}.md) | `{a.severity}` | {a.threshold} |" for a in alerts]
    return "\n".join(
        [
            header,
            "# Runbooks\n",
            "One page per inferwatch alert. `page` alerts wake someone; `ticket` alerts open a ticket for "
            "working hours (see `deploy/alertmanager/alertmanager.yml`).\n",
            "| alert | severity | fires when |",
            "|---|---|---|",
            *rows,
            "",
            "Every SLO of inferwatch.yaml also has burn-rate alerts (see [the SLO guide](../slo.md)): "
            + ", ".join(f"[{name}]({name}.md)" for name in (slo.ALERT_PAGE, slo.ALERT_TICKET, slo.ALERT_ABSENT))
            + ".",
            "",
        ]
    )


def runbook_path(alert: AlertDefinition) -> str:
    """Repository path of an alert's runbook."""
    return f"{RUNBOOK_DIR}/{alert.name}.md"
