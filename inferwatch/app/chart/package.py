"""The Helm chart as a packaging stage over the generators' output.

The chart in deploy/helm/inferwatch ships what `inferwatch build` generates for the same
configuration, so the chart and the CLI cannot disagree. `chart_artifacts(config, upstream)` is
given the artifacts every generator already made (the pipeline passes them; it never runs a
generator again) and returns the chart's generated files:

- ``values.yaml`` and ``values.schema.json`` (inferwatch.app.chart.values);
- ``files/prometheusrules/<object name>.yaml``: byte-for-byte copies of every PrometheusRule
  object of ``upstream``, and ``files/dashboards/*.json`` of every Grafana dashboard, so a new rule
  file or dashboard reaches the chart without touching it;
- ``files/rules-config.json``: the thresholds, SLOs and prices the rules were built from; the
  chart refuses to render when the values say otherwise (the rules would not match them), unless
  its SLO controller is on and generates the rules from the values;
- ``crds/``: the InferenceSLO CustomResourceDefinition (from the SLO model; Helm installs crds/
  before anything else and never deletes them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

import yaml

from inferwatch.app.chart.emit import drop_none
from inferwatch.app.chart.values import CHART_DIR, render_values_yaml, values_schema
from inferwatch.app.controller.crd import GROUP as CRD_GROUP
from inferwatch.app.controller.crd import PLURAL as CRD_PLURAL
from inferwatch.app.controller.crd import render_crd
from inferwatch.artifacts import Artifact, ArtifactKind
from inferwatch.config import InferwatchConfig
from inferwatch.errors import ValidationFailedError

# The chart's area name in inferwatch.app.generators' PACKAGERS (`inferwatch build --only chart`).
CHART_AREA = "chart"
RULES_FILES_DIR = f"{CHART_DIR}/files/prometheusrules"
DASHBOARD_FILES_DIR = f"{CHART_DIR}/files/dashboards"
RULES_CONFIG_PATH = f"{CHART_DIR}/files/rules-config.json"
# <group>_<plural>.yaml, as controller-gen names CRD files.
CRD_PATH = f"{CHART_DIR}/crds/{CRD_GROUP}_{CRD_PLURAL}.yaml"
# A ConfigMap holds at most 1 MiB; keep room for its metadata.
MAX_DASHBOARD_BYTES = 1_000_000
# The parts of the configuration that generated rules depend on.
RULE_INPUTS = ("thresholds", "slos", "pricing")


def prometheus_rule_name(art: Artifact) -> str | None:
    """The object name when ``art`` is a file holding exactly one PrometheusRule, else None.

    Workload manifests hold several objects per file; only a file that is one PrometheusRule is embedded.
    """
    if art.kind is not ArtifactKind.KUBERNETES or not art.path.endswith((".yaml", ".yml")):
        return None
    docs = [d for d in yaml.safe_load_all(art.content) if d is not None]
    if len(docs) == 1 and isinstance(docs[0], dict) and docs[0].get("kind") == "PrometheusRule":
        return str(docs[0]["metadata"]["name"])
    return None


def _dns_name(stem: str, limit: int = 40) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    return name[:limit].strip("-") or "dashboard"


def rules_config_json(config: InferwatchConfig) -> str:
    """The rule inputs (thresholds, SLOs, prices) the shipped rules were generated from, as JSON."""
    data = drop_none(config.model_dump(mode="json", include=set(RULE_INPUTS)))
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def chart_artifacts(config: InferwatchConfig, upstream: Sequence[Artifact]) -> list[Artifact]:
    """The chart's generated files for ``config``, given every other generator's artifacts.

    Every PrometheusRule object and every Grafana dashboard in ``upstream`` is copied unchanged
    into the chart; a dashboard too large for one ConfigMap, or two that would share a name,
    raise ValidationFailedError.
    """
    out = [
        Artifact(f"{CHART_DIR}/values.yaml", render_values_yaml(config), ArtifactKind.HELM_CHART),
        Artifact(
            f"{CHART_DIR}/values.schema.json",
            json.dumps(values_schema(), indent=2) + "\n",
            ArtifactKind.HELM_CHART,
        ),
        Artifact(RULES_CONFIG_PATH, rules_config_json(config), ArtifactKind.HELM_CHART),
        Artifact(CRD_PATH, render_crd(), ArtifactKind.HELM_CHART),
    ]
    # Named by the object, not the file: two generators may both call a file prometheusrule.yaml.
    rules: dict[str, str] = {}
    for art in sorted(upstream, key=lambda a: a.path):
        rule = prometheus_rule_name(art)
        if rule is None:
            continue
        name = _dns_name(rule, limit=50)
        if name in rules:
            raise ValidationFailedError(f"{art.path} and {rules[name]} would share the chart's rule file {name!r}")
        rules[name] = art.path
        out.append(Artifact(f"{RULES_FILES_DIR}/{name}.yaml", art.content, ArtifactKind.HELM_CHART))
    seen: dict[str, str] = {}
    for art in sorted(upstream, key=lambda a: a.path):
        if art.kind is not ArtifactKind.GRAFANA_DASHBOARD:
            continue
        size = len(art.content.encode())
        if size > MAX_DASHBOARD_BYTES:
            raise ValidationFailedError(
                f"{art.path}: {size} bytes does not fit one ConfigMap (at most {MAX_DASHBOARD_BYTES} bytes); "
                "split the dashboard"
            )
        name = _dns_name(PurePosixPath(art.path).stem)
        if name in seen:
            raise ValidationFailedError(f"{art.path} and {seen[name]} would share the dashboard ConfigMap {name!r}")
        seen[name] = art.path
        # Copies are HELM_CHART files: the originals are validated (and counted as dashboards) already.
        out.append(Artifact(f"{DASHBOARD_FILES_DIR}/{name}.json", art.content, ArtifactKind.HELM_CHART))
    return out
