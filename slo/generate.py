"""The SLO artifacts `inferwatch build` writes: rule file, PrometheusRule object, the SLO alerts' runbooks."""

from __future__ import annotations

from collections.abc import Sequence

from inferwatch.artifacts import Artifact, ArtifactKind, generated_header, markdown_header, prometheus_rule_labels
from inferwatch.config import InferwatchConfig
from inferwatch.conventions import slo as c
from inferwatch.rules import RuleFile, to_prometheus_rule, to_prometheus_yaml
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.model import SLO
from inferwatch.slo.rules import slo_rule_file

RULES_FILE_NAME = "slo-rules.yaml"
RULES_PATH = f"slo/generated/{RULES_FILE_NAME}"
PROMETHEUS_RULE_PATH = "deploy/prometheusrules/slo.yaml"
RUNBOOK_DIR = "docs/runbooks"

# The runbook of each SLO alert: (what it means, what to check, what to do).
RUNBOOKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    c.ALERT_PAGE: (
        "The SLO spends its error budget at least 14.4x too fast over 1 h (confirmed over 5 m) or 6x over "
        "6 h (confirmed over 30 m): at that pace 2 % (5 %) of a month's budget goes in an hour (six hours).",
        (
            "`inferwatch slo status` for the SLO and the namespace/model in the alert's labels.",
            "Latency SLOs: TTFT and queue time, requests waiting, KV-cache usage and preemptions of that namespace.",
            "Availability SLOs: finished reasons and HTTP 5xx of the vLLM pods; recent deploys or model changes.",
        ),
        (
            "Mitigate first (roll back, scale out, shed load), investigate after.",
            "See [the SLO guide](../slo.md) for the windows and burn rates behind this alert.",
        ),
    ),
    c.ALERT_TICKET: (
        "A slow burn: 3x over 1 d (confirmed over 2 h) or 1x over 3 d (confirmed over 6 h). The SLO will "
        "miss its objective if this continues; no one needs to wake up.",
        (
            "`inferwatch slo status`: how much budget is left, and since when it burns.",
            "The trend behind it: growing traffic, a degraded node, a slower model version.",
        ),
        ("Plan the fix within working hours: capacity, a rollback, or a revised objective.",),
    ),
    c.ALERT_ABSENT: (
        "The normalized series the SLI reads do not exist, so burn rates read no data and no burn alert can fire.",
        (
            "Are the vLLM pods scraped (`up`)?",
            "Are the inferwatch normalization rules loaded (`inferwatch:vllm_*` series exist)?",
            "Do the SLO's `matchers` still match a namespace/model that exists?",
        ),
        ("Fix the scrape or load the normalization rules (deploy/prometheusrules/inferwatch-normalize.yaml).",),
    ),
    c.ALERT_RECORDING_GAP: (
        "The SLO's own recording is incomplete, by the alert's `reason`: `gap`: it did not run for part of "
        "the last hour (Prometheus was down or restarted), so the SLO's figures over any window holding that "
        "hour rest on a gap; `checkpoints-stopped`: its checkpoint group records nothing while Prometheus "
        "runs; `long-windows-stale`: its long-window group has not summed the long windows for 15 minutes, "
        "so the budget and the ticket windows read no data. Events within a gap are not lost: the vLLM "
        "counters kept counting and the checkpoints after the gap count the jump; what a gap can lose is "
        "the events of a pod that restarted inside it, before its restart.",
        (
            "`inferwatch slo status`: the `covered` column (share of the SLO window recorded) and the figures "
            "marked as resting on a gap.",
            "Prometheus's own health: restarts (`process_start_time_seconds`), OOM kills, WAL replay time, "
            "`prometheus_rule_group_iterations_missed_total` and `prometheus_rule_evaluation_failures_total` "
            "for the SLO's groups (`inferwatch-slo-<name>`, `-checkpoints`, `-long-windows`).",
            "Whether vLLM pods restarted during the gap (`kube_pod_container_status_restarts_total`): their "
            "events between the gap's start and the restart are missing from the figures.",
        ),
        (
            "`gap`: nothing to repair; the alert resolves an hour after the recording is whole again. Keep "
            "Prometheus's memory and storage ahead of its load so it is not OOM-killed.",
            "`checkpoints-stopped` or `long-windows-stale`: look for failing or slow evaluations of that group "
            "in Prometheus's logs and `/rules` page; the SLO rules must be loaded whole "
            "(slo/generated/slo-rules.yaml).",
            'See [the SLO guide](../slo.md), "Windows that survive a Prometheus outage", for what a gap can and '
            "cannot lose.",
        ),
    ),
}


def rules_header(source: str) -> str:
    """The generated-file header of SLO rule files."""
    return generated_header("SLO burn-rate rules", f"the slos: and thresholds: sections of {source}")


def render_runbook(alert: str, header: str) -> str:
    """The Markdown runbook of one SLO alert."""
    meaning, checks, actions = RUNBOOKS[alert]
    return "\n".join(
        [
            header,
            f"# {alert}\n",
            f"{meaning}\n",
            "## What to check\n",
            *[f"1. {step}" for step in checks],
            "",
            "## What to do\n",
            *[f"- {step}" for step in actions],
            "",
        ]
    )


def alert_holds(config: InferwatchConfig) -> dict[str, str]:
    """Each SLO alert's `for:` as the configuration's thresholds set it (by alert name)."""
    t = config.thresholds
    return {
        c.ALERT_PAGE: t.slo_page_for,
        c.ALERT_TICKET: t.slo_ticket_for,
        c.ALERT_ABSENT: t.slo_absent_for,
        c.ALERT_RECORDING_GAP: t.slo_recording_gap_for,
    }


def slo_rules(slos: Sequence[SLO], config: InferwatchConfig, counters_owner: str | None = None) -> RuleFile:
    """The rule file of ``slos`` with the configuration's runbook URL and alert holds: what `inferwatch
    build` writes for the config's SLOs and the controller applies for each InferenceSLO (with
    ``counters_owner``, its SLO's name: its own copy of the normalized counters)."""
    return slo_rule_file(slos, config.runbook_base_url, alert_holds(config), counters_owner=counters_owner)


def artifacts(config: InferwatchConfig) -> list[Artifact]:
    """The SLO rule file (plain Prometheus), the same groups as a PrometheusRule object, and the runbooks."""
    slos, _ = slos_from_specs(config.slos, config.source)
    rule_file = slo_rules(slos, config)
    header = rules_header(config.source)
    out = [
        Artifact(RULES_PATH, to_prometheus_yaml(rule_file, header), ArtifactKind.PROMETHEUS_RULES),
        Artifact(
            PROMETHEUS_RULE_PATH,
            to_prometheus_rule(rule_file, "inferwatch-slo", prometheus_rule_labels("slo", config.rule_labels), header),
            ArtifactKind.KUBERNETES,
        ),
    ]
    runbook_header = markdown_header("SLO alert runbook", "slo/generate.py")
    out.extend(
        Artifact(f"{RUNBOOK_DIR}/{alert}.md", render_runbook(alert, runbook_header), ArtifactKind.DOCUMENT)
        for alert in RUNBOOKS
    )
    return out
