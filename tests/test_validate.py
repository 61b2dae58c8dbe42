"""Validators looked up by artifact kind: every kind has one, and each one bites (real tools, offline schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.app import generators
from inferwatch.app.cli import cli
from inferwatch.app.generators import Generator
from inferwatch.app.validate import VALIDATORS, NoValidatorError, check_file
from inferwatch.app.validate.grafana import check_grafana_dashboard
from inferwatch.artifacts import Artifact, ArtifactKind, CheckResult
from inferwatch.config import InferwatchConfig
from inferwatch.tools import Toolbox


def test_every_artifact_kind_has_a_validator() -> None:
    missing = [k.value for k in ArtifactKind if k not in VALIDATORS]
    assert not missing, f"artifact kinds without a validator: {missing}"


def unvalidated(_: InferwatchConfig) -> list[Artifact]:
    """A generator of one dashboard."""
    return [Artifact("dashboards/x.json", "{}", ArtifactKind.GRAFANA_DASHBOARD)]


def test_a_kind_without_validator_is_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(VALIDATORS, ArtifactKind.GRAFANA_DASHBOARD)
    with pytest.raises(NoValidatorError):
        check_file(Toolbox.default(), tmp_path, "x.json", ArtifactKind.GRAFANA_DASHBOARD)
    monkeypatch.setattr(generators, "GENERATORS", (Generator("d", unvalidated),))
    monkeypatch.setattr(generators, "PACKAGERS", ())
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", "--out", str(out)])
    assert result.exit_code == 6
    assert "no validator is registered for artifact kind 'grafana-dashboard'" in result.stderr
    assert not out.exists()


def _check(tmp_path: Path, name: str, text: str, kind: ArtifactKind, tools: Toolbox) -> CheckResult:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    [result] = check_file(tools, tmp_path, name, kind)
    return result


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"
RULE = """apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: x
  labels: {release: kube-prometheus-stack}
spec:
  groups:
  - name: g
    rules:
    - record: a:b:c
      expr: up
"""
SCALED = """apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: x}
spec:
  scaleTargetRef: {name: vllm}
  triggers: [{type: prometheus, metadata: {query: up, threshold: "1"}}]
"""

ISVC = """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: llama}
spec:
  predictor:
    minReplicas: 1
    model:
      modelFormat: {name: huggingface}
      storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
      resources:
        limits: {nvidia.com/gpu: "1", memory: 24Gi}
"""

# A built-in kind of a group with dots: Kubernetes' own schema, not a CRD's.
CLAIM_TEMPLATE = """apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: x}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly: {deviceClassName: gpu.nvidia.com, count: 1}
"""


@pytest.mark.parametrize(
    ("good", "bad", "complaint"),
    [
        (CONFIGMAP, CONFIGMAP + "colour: red\n", "additional properties 'colour' not allowed"),
        (RULE, RULE.replace("    - record", "    - recrod"), "recrod"),
        (RULE, RULE.replace("  groups:", "  groupz: []\n  groups:"), "additional properties 'groupz' not allowed"),
        (SCALED, SCALED + "  bogus: 1\n", "additional properties 'bogus' not allowed"),
        (ISVC, ISVC.replace("minReplicas: 1", "minReplicas: one"), "minReplicas"),
        (CLAIM_TEMPLATE, CLAIM_TEMPLATE.replace("deviceClassName", "deviceClass"), "'deviceClass' not allowed"),
    ],
    ids=["core", "prometheusrule-rule", "prometheusrule-spec", "keda", "kserve", "resource-k8s-io"],
)
def test_kubeconform_strict_offline(tmp_path: Path, tools: Toolbox, good: str, bad: str, complaint: str) -> None:
    assert _check(tmp_path, "good.yaml", good, ArtifactKind.KUBERNETES, tools).ok
    result = _check(tmp_path, "bad.yaml", bad, ArtifactKind.KUBERNETES, tools)
    assert not result.ok and complaint in result.output, result.output


def test_kubeconform_refuses_a_kind_without_schema(tmp_path: Path, tools: Toolbox) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n"
    result = _check(tmp_path, "w.yaml", text, ArtifactKind.KUBERNETES, tools)
    assert not result.ok and "could not find schema for Widget" in result.output


def test_document_links_must_resolve(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("")
    text = (
        "[here](other.md) [web](https://example.com/x.md) [anchor](#top) [repo file](../README.md) "
        "`[in code](nowhere.md)` ![image](also-not-checked.png)\n"
    )
    ok = _check(tmp_path, "docs/a.md", text, ArtifactKind.DOCUMENT, Toolbox.default())
    assert ok.ok, ok.output
    bad = _check(
        tmp_path, "docs/b.md", "see [the runbook](runbooks/Missing.md#x)\n", ArtifactKind.DOCUMENT, Toolbox.default()
    )
    assert not bad.ok and "runbooks/Missing.md#x" in bad.output


def test_grafana_dashboard_schema(tmp_path: Path) -> None:
    # The schema step of the GRAFANA_DASHBOARD validator (the dashboards' lint follows it in check_file).
    def schema(name: str, text: str) -> CheckResult:
        (tmp_path / name).write_text(text)
        [result] = check_grafana_dashboard(Toolbox.default(), tmp_path, name)
        return result

    dashboard = {"title": "x", "uid": "x", "schemaVersion": 41, "panels": [], "templating": {}, "annotations": {}}
    ok = schema("d.json", json.dumps(dashboard))
    assert ok.ok, ok.output
    bad = schema("e.json", json.dumps({**dashboard, "panels": "none", "colour": 1}))
    assert not bad.ok
    assert "'colour' was unexpected" in bad.output and "panels: 'none' is not of type 'array'" in bad.output
