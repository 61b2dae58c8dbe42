"""Cost per token per namespace: cost recording rules and the weekly cost report."""

from inferwatch.slo.cost.rules import cost_groups, cost_rule_file

__all__ = ["cost_groups", "cost_rule_file"]
