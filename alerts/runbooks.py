"""Runbooks: one Markdown page per alert, and the link from every alert to its page.

A page is alerts/templates/_runbook.md.j2 around the alert's own prose,
alerts/templates/<AlertName>.md.j2 (what it means, what to check, what to do: Markdown a person
edits). What the page says about the threshold comes from the same AlertDefinition as the rule,
built from the configuration, so the number a runbook quotes is the configured one. The
`runbook_url` annotation is added to every alerting rule in one pass (kubernetes-mixin's
add-runbook-links), never spelled in a definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jinja2 import Environment, PackageLoader, StrictUndefined

from inferwatch.alerts.definition import AlertDefinition
from inferwatch.conventions import slo
from inferwatch.rules import AlertingRule, RuleGroup

RUNBOOK_DIR = "docs/runbooks"

# Markdown, not HTML: the prose is ours and the rest are configured numbers, so nothing is escaped.
_ENV = Environment(
    loader=PackageLoader("inferwatch.alerts", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def prose_template(alert_name: str) -> str:
    """The name of the template holding an alert's runbook prose."""
    return f"{alert_name}.md.j2"


def runbook_url(runbook_base_url: str, alert_name: str) -> str:
    """Where an alert's runbook lives (`<runbook_base_url>/<AlertName>.md`)."""
    return f"{runbook_base_url}/{alert_name}.md"


def add_runbook_links(groups: Sequence[RuleGroup], runbook_base_url: str) -> tuple[RuleGroup, ...]:
    """The groups with a `runbook_url` annotation on every alerting rule (recording rules untouched)."""

    def linked(rule: AlertingRule) -> AlertingRule:
        url = runbook_url(runbook_base_url, rule.alert)
        return replace(rule, annotations={**rule.annotations, "runbook_url": url})

    return tuple(
        replace(g, rules=tuple(linked(r) if isinstance(r, AlertingRule) else r for r in g.rules)) for g in groups
    )


def render_runbook(alert: AlertDefinition, header: str = "") -> str:
    """The Markdown runbook of one alert: meaning, threshold, what to check, what to do, the rule."""
    page = _ENV.get_template("_runbook.md.j2")
    return page.render(header=header, alert=alert, prose=prose_template(alert.name))


def render_index(alerts: Sequence[AlertDefinition], header: str = "") -> str:
    """docs/runbooks/README.md: every alert, its severity and threshold, linked to its runbook."""
    slo_alerts = (slo.ALERT_PAGE, slo.ALERT_TICKET, slo.ALERT_ABSENT)
    return _ENV.get_template("_index.md.j2").render(header=header, alerts=alerts, slo_alerts=slo_alerts)


def runbook_path(alert: AlertDefinition) -> str:
    """Repository path of an alert's runbook."""
    return f"{RUNBOOK_DIR}/{alert.name}.md"
