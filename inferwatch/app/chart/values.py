"""The Helm chart's values: values.yaml and values.schema.json from one model, ChartValues.

Every key has one description, shown as the comment above it in ``values.yaml`` and as the
schema's ``description``; unknown keys are refused (additionalProperties false everywhere). The
``inferwatch`` block is the configuration itself and its schema is the config model's JSON schema.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from inferwatch.app.chart.emit import drop_none, emit_values
from inferwatch.app.chart.security import ExporterWebValues, PrometheusClientValues
from inferwatch.artifacts import generated_header
from inferwatch.config import InferwatchConfig
from inferwatch.errors import ValidationFailedError

log = logging.getLogger(__name__)

CHART_DIR = "deploy/helm/inferwatch"
COMMAND = "inferwatch build"
# What the generated headers name as the values' source.
SOURCE = "inferwatch/app/chart/values.py"
# The label the vLLM pod manifests set on pods that run the inferwatch sidecar; the PodMonitor
# selects on it. deploy/workloads/ sets it; the chart's values default to it.
SIDECAR_POD_LABEL = "inferwatch.io/sidecar"
# Name of the sidecar container's metrics port (an IANA service name: at most 15 characters).
SIDECAR_PORT_NAME = "iw-metrics"


class _Section(BaseModel):
    # Unknown keys are typos: the generated schema says additionalProperties false everywhere.
    model_config = ConfigDict(extra="forbid")


class ImageValues(_Section):
    """The one image the exporter, the cost-report CronJob and the test hook run."""

    repository: str = Field(
        "ghcr.io/inferwatch/inferwatch", description="image repository (built from deploy/Containerfile)"
    )
    tag: str = Field("", description="image tag; empty means the chart's appVersion")
    digest: str = Field(
        "",
        pattern=r"^(sha256:[0-9a-f]{64})?$",
        description="image digest (sha256:…); when set it pins the image instead of the tag",
    )
    pullPolicy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="when the kubelet pulls the image"
    )
    pullSecrets: list[dict[str, str]] = Field(
        default_factory=list, description="imagePullSecrets of every pod, e.g. [{name: regcred}]"
    )


class ServiceAccountValues(_Section):
    """The pods' ServiceAccount; no pod of the chart talks to the Kubernetes API, so it has no RBAC rules."""

    create: bool = Field(True, description="create a ServiceAccount for the chart's pods")
    name: str = Field("", description="name of the ServiceAccount to use; empty means the release's full name")
    annotations: dict[str, str] = Field(default_factory=dict, description="annotations of the ServiceAccount")


class ExporterValues(_Section):
    """The exporter DaemonSet: one pod per GPU node reading every GPU of the node over NVML."""

    enabled: bool = Field(True, description="run the exporter DaemonSet on GPU nodes")
    attribution: bool = Field(
        True,
        description="attribute GPUs to pods through the kubelet pod-resources socket; the socket is root-only, "
        "so this runs the container as root (no capabilities). false: non-root, GPU series without pods",
    )
    podResourcesHostPath: str = Field(
        "/var/lib/kubelet/pod-resources",
        description="host directory of the kubelet pod-resources socket, mounted read-only (attribution only)",
    )
    runAsUser: int = Field(65532, ge=1, description="UID (and GID) the exporter runs as when attribution is off")
    runtimeClassName: str = Field(
        "", description="runtime class that injects NVML (e.g. nvidia); empty uses the node's default runtime"
    )
    priorityClassName: str = Field(
        "system-node-critical", description="priority class, so node pressure evicts workloads before the exporter"
    )
    priorityClassQuota: bool = Field(
        True,
        description="with a system-* priority class: a ResourceQuota in the release's namespace that admits the "
        "exporter's pods where the cluster keeps those classes to kube-system (GKE); false to leave that to you",
    )
    logFormat: Literal["logfmt", "json"] = Field("logfmt", description="log line format of the exporter")
    nodeSelector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"},
        description="nodes the DaemonSet runs on (GPU Feature Discovery labels GPU nodes with this)",
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        description="tolerations of the exporter pods (the GPU taint by default)",
    )
    affinity: dict[str, Any] = Field(default_factory=dict, description="affinity of the exporter pods")
    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        description="resources of the exporter container (measured: ~1 % of a core, < 100 MB on 8 GPUs)",
    )
    updateStrategy: dict[str, Any] = Field(
        default_factory=lambda: {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        description="DaemonSet update strategy",
    )
    podAnnotations: dict[str, str] = Field(default_factory=dict, description="extra annotations of the exporter pods")
    podLabels: dict[str, str] = Field(default_factory=dict, description="extra labels of the exporter pods")
    extraEnv: list[dict[str, Any]] = Field(
        default_factory=list,
        description="extra environment variables, e.g. INFERWATCH_EXPORTER__<KEY> overrides of single settings",
    )
    terminationGracePeriodSeconds: int = Field(30, ge=0, description="time the exporter gets to stop on SIGTERM")
    web: ExporterWebValues = Field(
        default_factory=ExporterWebValues, description="who may read /metrics: TLS, basic auth or kube-rbac-proxy"
    )


class ServiceValues(_Section):
    """The Service in front of the exporter pods (what the ServiceMonitor scrapes)."""

    type: Literal["ClusterIP"] = Field("ClusterIP", description="Service type (ClusterIP only: metrics stay inside)")
    port: int = Field(9400, ge=1, le=65535, description="Service port of /metrics")
    annotations: dict[str, str] = Field(default_factory=dict, description="extra annotations of the Service")
    scrapeAnnotations: bool = Field(
        True,
        description="without the operator: prometheus.io/* annotations for a kubernetes-service-endpoints job; "
        "false when your own job (docs/deploy.md) scrapes the exporter, or it is scraped twice",
    )


class ServiceMonitorValues(_Section):
    """The ServiceMonitor of the exporter DaemonSet (Prometheus Operator)."""

    enabled: bool = Field(True, description="render the ServiceMonitor (needs monitoring.operator)")
    interval: str = Field("15s", description="scrape interval")
    scrapeTimeout: str = Field("10s", description="scrape timeout")


class PodMonitorValues(_Section):
    """The PodMonitor of the vLLM pods that carry the inferwatch sidecar (Prometheus Operator)."""

    enabled: bool = Field(True, description="render the PodMonitor (needs monitoring.operator)")
    podLabel: str = Field(SIDECAR_POD_LABEL, description='label that marks pods running the sidecar (value "true")')
    portName: str = Field(SIDECAR_PORT_NAME, description="name of the sidecar container's metrics port")
    namespaces: list[str] = Field(
        default_factory=list, description="namespaces to look for sidecar pods in; empty means every namespace"
    )
    interval: str = Field("15s", description="scrape interval")
    scrapeTimeout: str = Field("10s", description="scrape timeout")
    scheme: Literal["http", "https"] = Field(
        "http", description="scheme of the sidecars' /metrics (https when workload.sidecar_web enables TLS)"
    )
    tlsConfig: dict[str, Any] = Field(
        default_factory=dict,
        description="tlsConfig of the endpoint (ca, serverName, insecureSkipVerify, cert, keySecret)",
    )
    basicAuth: dict[str, Any] = Field(
        default_factory=dict, description="basicAuth of the endpoint: {username: {name, key}, password: {name, key}}"
    )
    authorization: dict[str, Any] = Field(
        default_factory=dict, description="authorization of the endpoint: {type: Bearer, credentials: {name, key}}"
    )


class MonitoringValues(_Section):
    """How Prometheus finds the metrics and rules: Prometheus Operator objects or plain annotations."""

    operator: bool = Field(
        True,
        description="the Prometheus Operator (kube-prometheus-stack) runs: render ServiceMonitor, PodMonitor and "
        "PrometheusRules. false: prometheus.io/* scrape annotations and a rule-file ConfigMap instead",
    )
    additionalLabels: dict[str, str] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="labels of every ServiceMonitor, PodMonitor and PrometheusRule; kube-prometheus-stack selects "
        "on release: <its release name>",
    )
    serviceMonitor: ServiceMonitorValues = Field(default_factory=ServiceMonitorValues, description="the exporter's")
    podMonitor: PodMonitorValues = Field(default_factory=PodMonitorValues, description="the sidecars'")


class PrometheusRulesValues(_Section):
    """The generated recording and alerting rules (normalization, alerts, SLOs, cost)."""

    enabled: bool = Field(True, description="ship the generated rules")
    additionalLabels: dict[str, str] = Field(
        default_factory=dict, description="labels added to the rule objects on top of monitoring.additionalLabels"
    )
    disabled: list[str] = Field(
        default_factory=list,
        description="rule objects to leave out, by name without the inferwatch- prefix (normalize, alerts, slo, "
        "cost, autoscaling, …); alerts, SLOs, cost and autoscaling read the normalization rules, so keep those",
    )


class DashboardsValues(_Section):
    """The generated Grafana dashboards, one ConfigMap each, for Grafana's dashboard sidecar."""

    enabled: bool = Field(True, description="ship the generated dashboards")
    namespace: str = Field("", description="namespace of the dashboard ConfigMaps; empty means the release's")
    label: str = Field("grafana_dashboard", description="label the Grafana sidecar looks for")
    labelValue: str = Field("1", description="value of that label")
    folderAnnotation: str = Field(
        "grafana_folder", description="annotation naming the Grafana folder (the sidecar's folderAnnotation)"
    )
    folder: str = Field("inferwatch", description="Grafana folder the dashboards land in")
    additionalLabels: dict[str, str] = Field(default_factory=dict, description="extra labels of the ConfigMaps")


class PersistenceValues(_Section):
    """Where the weekly reports are kept."""

    enabled: bool = Field(
        True, description="keep reports on a PersistentVolumeClaim; false: only the webhook gets them"
    )
    existingClaim: str = Field("", description="use this PVC instead of creating one")
    size: str = Field("1Gi", description="size of the created PVC (a report is tens of kB)")
    storageClassName: str = Field("", description="storage class of the created PVC; empty means the default")
    accessModes: list[str] = Field(default_factory=lambda: ["ReadWriteOnce"], description="access modes of the PVC")


class WebhookValues(_Section):
    """The Slack-compatible webhook the summary is posted to; its URL is a secret."""

    enabled: bool = Field(False, description="post a summary of each report to a webhook")
    existingSecret: str = Field("", description="Secret holding the webhook URL; empty: the chart creates one from url")
    secretKey: str = Field("url", description="key of the URL in that Secret")
    url: str = Field("", description="webhook URL the chart stores in its own Secret (prefer existingSecret)")


class CostReportValues(_Section):
    """The weekly cost report CronJob (`inferwatch cost report`)."""

    enabled: bool = Field(True, description="run the weekly cost report")
    schedule: str = Field("0 6 * * 1", description="cron schedule; Monday 06:00 reports the ISO week that just ended")
    week: str = Field(
        "",
        pattern=r"^(|current|\d{4}-W\d{2})$",
        description="ISO week to report (2026-W47, or current: the week so far); empty means the last full week",
    )
    timeZone: str = Field("Etc/UTC", description="time zone of the schedule")
    prometheusUrl: str = Field(
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        description="Prometheus the report queries (overrides inferwatch.prometheus.url)",
    )
    prometheusPort: int = Field(9090, ge=1, le=65535, description="port of that URL, for the NetworkPolicy egress rule")
    successfulJobsHistoryLimit: int = Field(3, ge=0, description="finished Jobs kept")
    failedJobsHistoryLimit: int = Field(3, ge=0, description="failed Jobs kept")
    startingDeadlineSeconds: int = Field(3600, ge=1, description="a run missed by more than this is skipped")
    activeDeadlineSeconds: int = Field(1800, ge=1, description="a run is stopped after this long")
    backoffLimit: int = Field(2, ge=0, description="retries of a failed run")
    persistence: PersistenceValues = Field(default_factory=PersistenceValues, description="where reports are kept")
    webhook: WebhookValues = Field(default_factory=WebhookValues, description="where the summary is posted")
    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        description="resources of the report container",
    )
    nodeSelector: dict[str, str] = Field(default_factory=dict, description="node selector of the report pods")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="tolerations of the report pods")
    affinity: dict[str, Any] = Field(default_factory=dict, description="affinity of the report pods")
    podAnnotations: dict[str, str] = Field(default_factory=dict, description="extra annotations of the report pods")


class NetworkPolicyValues(_Section):
    """NetworkPolicies: who may scrape the exporter, and where the report may connect."""

    enabled: bool = Field(True, description="render the NetworkPolicies")
    prometheusPeers: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        description="NetworkPolicy peers Prometheus runs as: they may scrape the exporter and the report reaches them",
    )
    extraEgress: list[dict[str, Any]] = Field(
        default_factory=list, description="extra egress rules of the exporter and the report (e.g. an OTLP collector)"
    )


class ControllerValues(_Section):
    """The SLO controller (`inferwatch controller run`): InferenceSLOs of every namespace become PrometheusRules,
    and the thresholds, SLOs and prices of these values become the global rules without a rebuild."""

    enabled: bool = Field(
        False,
        description="run the controller; it then generates the rule objects from these values (so `helm upgrade "
        "--set inferwatch.thresholds...` changes the alerts) and the chart ships no pre-built rules",
    )
    replicas: int = Field(1, ge=1, le=5, description="replicas; they elect a leader through a Lease, so 2 are safe")
    prometheusUrl: str = Field(
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        description="Prometheus the controller reads bucket boundaries, retention and error budgets from",
    )
    prometheusPort: int = Field(9090, ge=1, le=65535, description="port of that URL, for the NetworkPolicy egress rule")
    statusPeriod: str = Field("60s", pattern=r"^[1-9][0-9]*[smh]$", description="how often every status is refreshed")
    watchNamespace: str = Field("", description="watch InferenceSLOs of this namespace only; empty means every one")
    logLevel: Literal["debug", "info", "warning", "error"] = Field("info", description="log verbosity")
    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        description="resources of the controller container",
    )
    nodeSelector: dict[str, str] = Field(default_factory=dict, description="node selector of the controller pods")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="tolerations of the controller pods")
    affinity: dict[str, Any] = Field(default_factory=dict, description="affinity of the controller pods")
    podAnnotations: dict[str, str] = Field(default_factory=dict, description="extra annotations of the controller pods")


class TestValues(_Section):
    """The `helm test` hook."""

    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        description="resources of the test pod",
    )


class ChartValues(_Section):
    """Every value of the inferwatch chart."""

    nameOverride: str = Field("", description="replaces the chart name in object names")
    fullnameOverride: str = Field("", description="replaces the release-chart full name of objects")
    commonLabels: dict[str, str] = Field(default_factory=dict, description="labels added to every object")
    image: ImageValues = Field(default_factory=ImageValues, description="the inferwatch image")
    serviceAccount: ServiceAccountValues = Field(default_factory=ServiceAccountValues, description="pods' identity")
    inferwatch: InferwatchConfig = Field(
        default_factory=InferwatchConfig,
        description="inferwatch.yaml (docs: examples/inferwatch.yaml), mounted into the exporter and the report. "
        "thresholds, slos and pricing are compiled into the shipped rules: change them with "
        "`inferwatch -c my.yaml build` (docs/deploy.md), not here, unless controller.enabled (then the controller "
        "regenerates the rules from them). The DaemonSet sets exporter.mode itself "
        "and leaves out exporter.vllm_url",
    )
    exporter: ExporterValues = Field(default_factory=ExporterValues, description="the exporter DaemonSet")
    service: ServiceValues = Field(default_factory=ServiceValues, description="the exporter's Service")
    monitoring: MonitoringValues = Field(default_factory=MonitoringValues, description="how Prometheus finds things")
    prometheusRules: PrometheusRulesValues = Field(default_factory=PrometheusRulesValues, description="the rules")
    dashboards: DashboardsValues = Field(default_factory=DashboardsValues, description="the Grafana dashboards")
    costReport: CostReportValues = Field(default_factory=CostReportValues, description="the weekly cost report")
    prometheusClient: PrometheusClientValues = Field(
        default_factory=PrometheusClientValues,
        description="how the cost report (and any in-cluster reader) authenticates to Prometheus: credentials "
        "come from the ServiceAccount, Secrets and ConfigMaps, never from values",
    )
    networkPolicy: NetworkPolicyValues = Field(default_factory=NetworkPolicyValues, description="NetworkPolicies")
    controller: ControllerValues = Field(default_factory=ControllerValues, description="the SLO controller")
    test: TestValues = Field(default_factory=TestValues, description="the helm test hook")
    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="values shared with parent/sub charts (unused here)"
    )


# ---------------------------------------------------------------- values.yaml


def without_credentials(config: InferwatchConfig) -> InferwatchConfig:
    """``config`` without the ways into Prometheus that carry or point at credentials.

    The chart's ``inferwatch`` block lands in values.yaml and a ConfigMap: it never carries a secret
    (nor a path on the machine that built it); the chart fills in its own from ``prometheusClient``.
    Each setting left out is logged.
    """
    p = config.prometheus
    dropped = [name for name in ("authorization", "basic_auth") if getattr(p, name) is not None]
    headers = {}
    for name, header in p.http_headers.items():
        if header.secrets or header.files:
            dropped.append(f"http_headers.{name}.{'secrets' if header.secrets else 'files'}")
        if header.values:
            headers[name] = header.model_copy(update={"secrets": [], "files": []})
    proxy = p.proxy_url
    if proxy is not None and "proxy_url" in p.inline_secrets():
        dropped.append("proxy_url")
        proxy = None
    if not dropped:
        return config
    for name in dropped:
        log.warning("prometheus.%s is left out of the chart's values: the chart's pods get credentials from "
                    "prometheusClient (a ServiceAccount token, Secrets), never from values", name)  # fmt: skip
    update = {"authorization": None, "basic_auth": None, "http_headers": headers, "proxy_url": proxy}
    return config.model_copy(update={"prometheus": p.model_copy(update=update)})


def chart_values(config: InferwatchConfig) -> ChartValues:
    """The chart's default values for ``config`` (its ``inferwatch`` block is that configuration, less credentials)."""
    return ChartValues(inferwatch=without_credentials(config))


def values_data(config: InferwatchConfig) -> dict[str, Any]:
    """The default values as plain data, unset (None) settings left out as Helm drops nulls."""
    data: dict[str, Any] = drop_none(chart_values(config).model_dump(mode="json", by_alias=True))
    return data


def render_values_yaml(config: InferwatchConfig) -> str:
    """values.yaml: every key with its description as the comment above it."""
    header = generated_header("chart values", f"{SOURCE} and inferwatch.yaml", COMMAND)
    data = values_data(config)
    body = emit_values(ChartValues, data, "")
    text = header + "# Override with `helm install -f my-values.yaml`; values.schema.json rejects unknown keys.\n\n"
    text += "\n".join(body) + "\n"
    # The emitted text must mean exactly the data it documents.
    if yaml.safe_load(text) != data:
        raise ValidationFailedError("values.yaml does not round-trip to the chart's default values")
    return text


# ---------------------------------------------------------------- values.schema.json


def _strip_defaults(node: Any, names: bool = False) -> Any:
    # The defaults are in values.yaml and the titles repeat the keys; in the schema they would
    # only add bulk. ``names``: the keys of this mapping are property or definition names, kept.
    if isinstance(node, dict):
        return {
            k: _strip_defaults(v, names=not names and k in ("properties", "$defs"))
            for k, v in node.items()
            if names or k not in ("default", "title")
        }
    if isinstance(node, list):
        return [_strip_defaults(v) for v in node]
    return node


def values_schema() -> dict[str, Any]:
    """values.schema.json: the JSON schema of ChartValues; its ``inferwatch`` block is the config model's."""
    schema = _strip_defaults(ChartValues.model_json_schema(by_alias=True))
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"Generated by inferwatch (chart values schema) from {SOURCE} and the config model. "
        f"Do not edit: run `{COMMAND}`.",
    }
    out.update(schema)
    return out
