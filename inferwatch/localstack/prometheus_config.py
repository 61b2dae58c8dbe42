"""Prometheus server configuration for the local stack (demo and end-to-end tests).

In Kubernetes the chart's ServiceMonitor/PodMonitor objects do this job; locally, static
targets carry the `namespace`, `pod` and `container` labels that the Kubernetes service
discovery would add, so every rule and dashboard sees the same label set in both places.

The inferwatch exporter's job honours the labels it serves (`honor_labels: true`): in DaemonSet
mode `inferwatch_gpu_allocation_ratio` names the *workload's* namespace, pod and container, which
Prometheus would otherwise overwrite with the exporter pod's own target labels (keeping them as
`exported_namespace` …), attributing every GPU of the node to the exporter's namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

from inferwatch.artifacts import Artifact, ArtifactKind, generated_header

LOCAL_CONFIG_PATH = "deploy/local/prometheus.yml"


@dataclass(frozen=True)
class ScrapeTarget:
    """One static scrape target and the Kubernetes-style labels it stands for."""

    job: str
    address: str
    labels: dict[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    honor_labels: bool = False
    # How Prometheus reaches a target behind a web configuration (the exporter's --web.config.file):
    # "https" with tls_config, and basic_auth, in Prometheus's own <scrape_config> spelling.
    scheme: str = "http"
    tls_config: dict[str, object] | None = None
    basic_auth: dict[str, object] | None = None


@dataclass(frozen=True)
class LocalStack:
    """Addresses of the processes a local stack runs (all on loopback)."""

    targets: tuple[ScrapeTarget, ...]
    rule_files: tuple[str, ...] = ()
    alertmanagers: tuple[str, ...] = ()
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"


DEFAULT_LOCAL_STACK = LocalStack(
    targets=(
        ScrapeTarget(
            job="vllm",
            address="127.0.0.1:8000",
            labels={"namespace": "demo", "pod": "vllm-0", "container": "vllm"},
        ),
        ScrapeTarget(
            job="inferwatch-exporter",
            address="127.0.0.1:9400",
            labels={"namespace": "demo", "pod": "vllm-0", "container": "inferwatch"},
            honor_labels=True,
        ),
    ),
    rule_files=("../../alerts/generated/*.yaml", "../../slo/generated/*.yaml"),
    alertmanagers=("127.0.0.1:9093",),
)


def render(stack: LocalStack) -> dict[str, object]:
    """The Prometheus configuration as a plain mapping (pure: no files, no clock)."""
    jobs: dict[str, list[ScrapeTarget]] = {}
    for target in stack.targets:
        jobs.setdefault(target.job, []).append(target)
    scrape_configs: list[dict[str, object]] = []
    for job, targets in jobs.items():
        first = targets[0]
        scrape: dict[str, object] = {"job_name": job, "metrics_path": first.metrics_path}
        if any(t.honor_labels for t in targets):
            scrape["honor_labels"] = True
        if first.scheme != "http":
            scrape["scheme"] = first.scheme
        if first.tls_config is not None:
            scrape["tls_config"] = dict(first.tls_config)
        if first.basic_auth is not None:
            scrape["basic_auth"] = dict(first.basic_auth)
        scrape["static_configs"] = [{"targets": [t.address], "labels": dict(sorted(t.labels.items()))} for t in targets]
        scrape_configs.append(scrape)
    config: dict[str, object] = {
        "global": {
            "scrape_interval": stack.scrape_interval,
            "evaluation_interval": stack.evaluation_interval,
        },
        "scrape_configs": scrape_configs,
    }
    if stack.rule_files:
        config["rule_files"] = list(stack.rule_files)
    if stack.alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(stack.alertmanagers)}]}]}
    return config


def render_yaml(stack: LocalStack, header: str = "") -> str:
    """The Prometheus configuration as YAML text, with an optional header."""
    return header + yaml.safe_dump(render(stack), sort_keys=False)


def artifacts(targets: Sequence[ScrapeTarget] | None = None) -> list[Artifact]:
    """The committed local-stack Prometheus configuration."""
    stack = DEFAULT_LOCAL_STACK if targets is None else LocalStack(targets=tuple(targets))
    header = generated_header(
        "local stack Prometheus config", "inferwatch/localstack/prometheus_config.py", "inferwatch build"
    )
    return [Artifact(LOCAL_CONFIG_PATH, render_yaml(stack, header), ArtifactKind.PROMETHEUS_CONFIG)]
