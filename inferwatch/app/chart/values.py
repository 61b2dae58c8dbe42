"""The Helm chart's values: values.yaml and values.schema.json from one model, ChartValues.

Every key has one description, shown as the comment above it in ``values.yaml`` and as the
schema's ``description``; unknown keys are refused (additionalProperties false everywhere). The
``inferwatch`` block is the configuration itself and its schema is the config model's JSON schema.
"""

from __future__ import annotations

import textwrap
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from inferwatch.artifacts import generated_header
from inferwatch.config import InferwatchConfig
from inferwatch.errors import ValidationFailedError

CHART_DIR = "deploy/helm/inferwatch"
COMMAND = "inferwatch build"
# What the generated headers name as the values' source (the module they were first written in;
# kept so the committed chart files stay byte for byte what they were).
SOURCE = "inferwatch/chart.py"
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


class ServiceValues(_Section):
    """The Service in front of the exporter pods (what the ServiceMonitor scrapes)."""

    type: Literal["ClusterIP"] = Field("ClusterIP", description="Service type (ClusterIP only: metrics stay inside)")
    port: int = Field(9400, ge=1, le=65535, description="Service port of /metrics")
    annotations: dict[str, str] = Field(default_factory=dict, description="extra annotations of the Service")


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
    networkPolicy: NetworkPolicyValues = Field(default_factory=NetworkPolicyValues, description="NetworkPolicies")
    controller: ControllerValues = Field(default_factory=ControllerValues, description="the SLO controller")
    test: TestValues = Field(default_factory=TestValues, description="the helm test hook")
    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="values shared with parent/sub charts (unused here)"
    )


# ---------------------------------------------------------------- values.yaml


def drop_none(value: Any) -> Any:
    """``value`` with None left out of every mapping, as Helm drops nulls."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def _comment(text: str, pad: str) -> list[str]:
    return [f"{pad}# {line}" for line in textwrap.wrap(text, width=max(40, 110 - len(pad)))]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _description(field: FieldInfo) -> str:
    """A field's description, else the first line of its model's (or list item model's) docstring."""
    if field.description:
        return field.description
    args = get_args(field.annotation)
    model = _model_of(field.annotation) or (_model_of(args[0]) if args else None)
    doc = (model.__doc__ or "").strip().splitlines() if model else []
    return f"{'a list of: ' if args else ''}{doc[0]}" if doc else ""


def _yaml_block(key: str, value: Any, pad: str) -> list[str]:
    text = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return [pad + line for line in text.rstrip("\n").splitlines()]


def _emit(model: type[BaseModel], data: dict[str, Any], pad: str) -> list[str]:
    lines: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if not pad and lines:
            lines.append("")
        lines.extend(_comment(_description(field), pad))
        if key not in data:
            lines.append(f"{pad}# {key}:   (unset)")
            continue
        value = data[key]
        sub = _model_of(field.annotation)
        if sub is not None and isinstance(value, dict):
            # An empty section stays `{}`; its unset settings follow as comments.
            lines.append(f"{pad}{key}:" if value else f"{pad}{key}: {{}}")
            lines.extend(_emit(sub, value, pad + "  "))
        else:
            lines.extend(_yaml_block(key, value, pad))
    return lines


def chart_values(config: InferwatchConfig) -> ChartValues:
    """The chart's default values for ``config`` (its ``inferwatch`` block is that configuration)."""
    return ChartValues(inferwatch=config)


def values_data(config: InferwatchConfig) -> dict[str, Any]:
    """The default values as plain data, unset (None) settings left out as Helm drops nulls."""
    data: dict[str, Any] = drop_none(chart_values(config).model_dump(mode="json", by_alias=True))
    return data


def render_values_yaml(config: InferwatchConfig) -> str:
    """values.yaml: every key with its description as the comment above it."""
    header = generated_header("chart values", f"{SOURCE} and inferwatch.yaml", COMMAND)
    body = _emit(ChartValues, values_data(config), "")
    text = header + "# Override with `helm install -f my-values.yaml`; values.schema.json rejects unknown keys.\n\n"
    text += "\n".join(body) + "\n"
    # The emitted text must mean exactly the data it documents.
    if yaml.safe_load(text) != values_data(config):
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
