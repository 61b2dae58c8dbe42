"""The PrometheusRule objects the controller applies, built by the same generators as `inferwatch build`.

Per InferenceSLO: one PrometheusRule in its namespace, owned by it (Kubernetes deletes it with its
owner), holding exactly the groups `inferwatch build` writes for an SLO of inferwatch.yaml (the
SLO generator with the chart's thresholds and runbook URL). From the chart's values (the
controller's ConfigMap): every PrometheusRule `inferwatch build` generates — normalization,
alerts, SLOs of the values, cost, autoscaling — named and labelled as the chart would render them,
owned by that ConfigMap. Both are pure functions of their inputs, so a test can compare them with
the build's files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from inferwatch.app import generators
from inferwatch.app.chart.package import prometheus_rule_name
from inferwatch.app.controller import crd
from inferwatch.app.controller.model import InferenceSLO
from inferwatch.artifacts import ArtifactKind
from inferwatch.config import InferwatchConfig
from inferwatch.slo.generate import slo_rules
from inferwatch.slo.model import SLO

PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"
FIELD_MANAGER = "inferwatch-controller"
MANAGED_BY = {"app.kubernetes.io/managed-by": FIELD_MANAGER}
SLO_OWNER_LABEL = "inferwatch.io/inferenceslo"
# The object name prefix of the chart's rule objects (files/prometheusrules/inferwatch-<name>.yaml).
GENERATED_PREFIX = "inferwatch-"


class RuleObjectSettings(BaseModel):
    """How the chart names and labels rule objects (rendered by the chart into the controller's ConfigMap)."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field("inferwatch", description="name prefix of the global rule objects (the release's fullname)")
    enabled: bool = Field(True, description="apply the global rule objects (the chart's prometheusRules.enabled)")
    labels: dict[str, str] = Field(
        default_factory=dict, description="labels of every rule object, the release/rule labels Prometheus selects on"
    )
    disabled: list[str] = Field(default_factory=list, description="global rule objects left out, by short name")


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
    """An ownerReference that makes Kubernetes' garbage collector delete the object with its owner."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _rule_object(
    name: str, namespace: str, labels: Mapping[str, str], owner: dict[str, Any], spec: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": PROMETHEUS_RULE_API,
        "kind": "PrometheusRule",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(sorted({**labels, **MANAGED_BY}.items())),
            "ownerReferences": [owner],
        },
        "spec": _plain(spec),
    }


def _plain(value: Any) -> Any:
    # The rule model renders block literals through str subclasses; the API wants plain JSON.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def slo_rule_object(
    item: InferenceSLO, slo: SLO, config: InferwatchConfig, settings: RuleObjectSettings
) -> dict[str, Any]:
    """The PrometheusRule of one InferenceSLO: the SLO generator's groups, owned by the InferenceSLO."""
    labels = {**settings.labels, SLO_OWNER_LABEL: item.name}
    owner = owner_reference(crd.API_VERSION, crd.KIND, item.name, item.uid)
    # its own copy of the normalized counters, labelled with its SLO: another InferenceSLO of the
    # namespace counting the same histogram records its own, never the same series twice
    spec = slo_rules([slo], config, counters_owner=slo.name).to_dict()
    return _rule_object(item.rule_name, item.namespace, labels, owner, spec)


def generated_rule_specs(config: InferwatchConfig) -> dict[str, dict[str, Any]]:
    """Every PrometheusRule `inferwatch build` generates for ``config``, by short name (normalize,
    alerts, slo, cost, autoscaling, …): its ``spec`` as data."""
    out: dict[str, dict[str, Any]] = {}
    for gen in generators.GENERATORS:
        for art in gen.generate(config):
            if art.kind is not ArtifactKind.KUBERNETES or prometheus_rule_name(art) is None:
                continue
            obj = yaml.safe_load(art.content)
            out[str(obj["metadata"]["name"]).removeprefix(GENERATED_PREFIX)] = obj["spec"]
    return out


def global_rule_objects(
    config: InferwatchConfig,
    settings: RuleObjectSettings,
    namespace: str,
    owner: dict[str, Any],
    specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The chart's rule objects for the values' configuration, named ``<prefix>-<short name>`` as the
    chart names them, less the disabled ones."""
    specs = generated_rule_specs(config) if specs is None else specs
    return [
        _rule_object(f"{settings.prefix}-{short}", namespace, settings.labels, owner, spec)
        for short, spec in sorted(specs.items())
        if settings.enabled and short not in settings.disabled
    ]


def controlled_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """Whether ``obj`` exists and its controller ownerReference is ``uid``."""
    if obj is None:
        return False
    refs: Sequence[Mapping[str, Any]] = obj.get("metadata", {}).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("controller") for r in refs)
