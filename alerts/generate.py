"""The artifacts of the rules area: rule files, PrometheusRule objects, Alertmanager example, runbooks.

`artifacts(config)` is the "alerts" entry of inferwatch.app.generators' GENERATORS; `inferwatch rules
build` runs that same pipeline for this area. Pure: no files, environment or clock.
"""

from __future__ import annotations

from inferwatch.alerts.alertmanager import ALERTMANAGER_CONFIG_PATH, render_alertmanager_config
from inferwatch.alerts.catalog import alert_definitions, alert_groups
from inferwatch.alerts.normalize import normalization_groups
from inferwatch.alerts.runbooks import RUNBOOK_DIR, render_index, render_runbook, runbook_path
from inferwatch.artifacts import (
    Artifact,
    ArtifactKind,
    generated_header,
    markdown_header,
    prometheus_rule_labels,
)
from inferwatch.config import InferwatchConfig
from inferwatch.rules import RuleFile, to_prometheus_rule, to_prometheus_yaml

RULES_DIR = "alerts/generated"
PROMETHEUSRULES_DIR = "deploy/prometheusrules"
# The `app.kubernetes.io/component` label of each rule file's PrometheusRule.
COMPONENTS = {"normalize": "normalization", "alerts": "alerts"}


def rule_files(config: InferwatchConfig) -> dict[str, RuleFile]:
    """The rule files by short name: `normalize` (raw -> inferwatch:*) and `alerts`."""
    return {
        "normalize": RuleFile(normalization_groups()),
        "alerts": RuleFile(alert_groups(config.thresholds, config.runbook_base_url)),
    }


def artifacts(config: InferwatchConfig) -> list[Artifact]:
    """Every generated file of the rules area."""
    out: list[Artifact] = []
    thresholds = f"the thresholds: section of {config.source}"
    sources = {"normalize": "alerts/normalize/", "alerts": f"alerts/catalog.py and {thresholds}"}
    for name, rule_file in rule_files(config).items():
        header = generated_header(f"{name} rules", sources[name])
        out.append(
            Artifact(f"{RULES_DIR}/{name}.yaml", to_prometheus_yaml(rule_file, header), ArtifactKind.PROMETHEUS_RULES)
        )
        labels = prometheus_rule_labels(COMPONENTS[name], config.rule_labels)
        out.append(
            Artifact(
                f"{PROMETHEUSRULES_DIR}/inferwatch-{name}.yaml",
                to_prometheus_rule(rule_file, f"inferwatch-{name}", labels, header),
                ArtifactKind.KUBERNETES,
            )
        )
    out.append(
        Artifact(
            ALERTMANAGER_CONFIG_PATH,
            render_alertmanager_config(
                header=generated_header("example Alertmanager config", "alerts/alertmanager.py")
                + "# Replace the webhook receivers with pagerduty_configs / slack_configs / opsgenie_configs.\n"
            ),
            ArtifactKind.ALERTMANAGER_CONFIG,
        )
    )
    definitions = alert_definitions(config.thresholds)
    runbook_header = markdown_header("runbook", f"alerts/catalog.py and {thresholds}")
    out.extend(Artifact(runbook_path(d), render_runbook(d, runbook_header), ArtifactKind.DOCUMENT) for d in definitions)
    out.append(Artifact(f"{RUNBOOK_DIR}/README.md", render_index(definitions, runbook_header), ArtifactKind.DOCUMENT))
    return out
