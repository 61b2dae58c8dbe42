"""The alert catalog: every alert group in rule-file order, read by the rule generator *and* the runbooks.

Each group is a module of inferwatch.alerts.groups building its alerts from the configured
thresholds; the runbook link of every alert is added here in one pass over the rule groups
(kubernetes-mixin's add-runbook-links), so no definition spells a URL.
"""

from __future__ import annotations

from inferwatch.alerts.definition import AlertDefinition, AlertGroup
from inferwatch.alerts.groups import cost, gpu, router, targets, vllm
from inferwatch.alerts.runbooks import add_runbook_links
from inferwatch.config.thresholds import Thresholds
from inferwatch.rules import RuleGroup

GROUPS: tuple[AlertGroup, ...] = (vllm.GROUP, gpu.GROUP, targets.GROUP, router.GROUP, cost.GROUP)


def alert_definitions(thresholds: Thresholds) -> list[AlertDefinition]:
    """Every alert of inferwatch, with thresholds from the configuration (pure)."""
    return [d for group in GROUPS for d in group.alerts(thresholds)]


def alert_groups(thresholds: Thresholds, runbook_base_url: str) -> tuple[RuleGroup, ...]:
    """The alert set as rule groups, in definition order, each alert linked to its runbook."""
    groups = tuple(RuleGroup(g.name, tuple(d.to_rule() for d in g.alerts(thresholds))) for g in GROUPS)
    return add_runbook_links(groups, runbook_base_url)
