"""The cost artifacts `inferwatch build` writes: the cost rule file and its PrometheusRule object."""

from __future__ import annotations

from inferwatch.artifacts import Artifact, ArtifactKind, generated_header, prometheus_rule_labels
from inferwatch.config import InferwatchConfig
from inferwatch.rules import to_prometheus_rule, to_prometheus_yaml
from inferwatch.slo.cost.rules import cost_rule_file

RULES_PATH = "slo/generated/cost-rules.yaml"
PROMETHEUS_RULE_PATH = "deploy/prometheusrules/cost.yaml"


def artifacts(config: InferwatchConfig) -> list[Artifact]:
    """The cost rule file (plain Prometheus) and the same groups as a PrometheusRule object."""
    rule_file = cost_rule_file(config.pricing)
    header = generated_header("cost recording rules", f"slo/cost/rules.py and the pricing: section of {config.source}")
    labels = prometheus_rule_labels("cost", config.rule_labels)
    return [
        Artifact(RULES_PATH, to_prometheus_yaml(rule_file, header), ArtifactKind.PROMETHEUS_RULES),
        Artifact(
            PROMETHEUS_RULE_PATH,
            to_prometheus_rule(rule_file, "inferwatch-cost", labels, header),
            ArtifactKind.KUBERNETES,
        ),
    ]
