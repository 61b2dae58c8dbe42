"""The SLO artifacts `inferwatch build` writes: the rule file and its PrometheusRule object."""

from __future__ import annotations

from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.rules import slo_rule_file

from inferwatch.artifacts import Artifact, ArtifactKind, generated_header
from inferwatch.config import InferwatchConfig
from inferwatch.rules import to_prometheus_rule, to_prometheus_yaml

RULES_FILE_NAME = "slo-rules.yaml"
RULES_PATH = f"slo/generated/{RULES_FILE_NAME}"
PROMETHEUS_RULE_PATH = "deploy/prometheusrules/slo.yaml"


def rules_header(source: str) -> str:
    """The generated-file header of SLO rule files."""
    return generated_header("SLO burn-rate rules", f"the slos: section of {source}", "inferwatch build")


def artifacts(config: InferwatchConfig) -> list[Artifact]:
    """The SLO rule file (plain Prometheus) and the same groups as a PrometheusRule object."""
    slos, _ = slos_from_specs(config.slos, "inferwatch.yaml")
    rule_file = slo_rule_file(slos)
    header = rules_header("examples/inferwatch.yaml")
    return [
        Artifact(RULES_PATH, to_prometheus_yaml(rule_file, header), ArtifactKind.PROMETHEUS_RULES),
        Artifact(
            PROMETHEUS_RULE_PATH,
            to_prometheus_rule(rule_file, "inferwatch-slo", {"app.kubernetes.io/part-of": "inferwatch"}, header),
            ArtifactKind.KUBERNETES,
        ),
    ]
