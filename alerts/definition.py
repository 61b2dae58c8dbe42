"""What an alert is: its rule, the texts that quote its threshold, and the words those texts share.

An AlertDefinition carries its PromQL (over normalized `inferwatch:*` series only), its severity
and the texts built from the configured thresholds (summary, description, the "fires when" of
its runbook), so the number in the alert, its description and its runbook is always the
configured one. The runbook's prose lives in a Markdown template named after the alert
(inferwatch.alerts.runbooks); the runbook link is added to every rule in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from inferwatch.config.durations import duration_seconds
from inferwatch.config.thresholds import Thresholds
from inferwatch.rules import AlertingRule

Severity = Literal["page", "ticket"]

ALERT_GROUP_PREFIX = "inferwatch-alerts"


@dataclass(frozen=True)
class AlertDefinition:
    """One alert: its rule and the texts that quote its configured threshold."""

    name: str
    severity: Severity
    expr: str
    for_: str | None
    summary: str
    description: str
    threshold: str  # when it fires, in words: the runbook's "Fires when" and `inferwatch rules list`

    def to_rule(self) -> AlertingRule:
        """The Prometheus alerting rule of this definition (its runbook link is added by the catalog)."""
        return AlertingRule(
            alert=self.name,
            expr=self.expr,
            for_=self.for_,
            labels={"severity": self.severity},
            annotations={"summary": self.summary, "description": self.description},
        )


@dataclass(frozen=True)
class AlertGroup:
    """One rule group of alerts (one module of inferwatch.alerts.groups), built from the thresholds."""

    name: str
    alerts: Callable[[Thresholds], list[AlertDefinition]]


def hold(duration: str) -> str | None:
    """An alert's `for:` from its configured duration: None (no `for:`, fire at once) for 0s."""
    return duration if duration_seconds(duration) else None


def held(duration: str) -> str:
    """How the texts say how long a condition must hold: " for 10m", or nothing for 0s."""
    return f" for {duration}" if duration_seconds(duration) else ""


def num(value: float) -> str:
    """A number as PromQL and humans both read it: 2.0 -> "2", 0.95 -> "0.95"."""
    return f"{value:g}"


def pct(ratio: float) -> str:
    """A ratio as a percentage for text: 0.95 -> "95%"."""
    return f"{ratio * 100:g}%"
