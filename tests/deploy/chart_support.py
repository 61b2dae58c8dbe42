"""Rendering the Helm chart in tests: `helm template` of a values file, and kubeconform's schema folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from inferwatch.reference import reference_path
from inferwatch.tools import Toolbox

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "inferwatch"
GOLDEN = REPO_ROOT / "deploy" / "helm" / "golden"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "inferwatch"
NAMESPACE = "inferwatch"
K8S_SCHEMA_VERSION = "v1.37.0"
CRDS = ("podmonitors", "prometheusrules", "servicemonitors")
# cert-manager's Certificate CRD (exporter.web.tls.certManager), kept for the tests with its licence and source.
CERT_MANAGER_CRD = (
    Path(__file__).resolve().parents[1] / "data" / "cert-manager-crds" / "cert-manager.io_certificates.yaml"
)
# helm built from source defaults to Kubernetes v1.20 for `template`; render for a current cluster.
KUBE_VERSION = "v1.34.0"


class HelmFailed(Exception):
    """`helm` exited non-zero; the message is its output."""


def helm_template(tools: Toolbox, *args: str, chart: Path = CHART) -> str:
    """`helm template` of the chart as release "inferwatch" in namespace "inferwatch", with ``args``."""
    proc = tools.run(
        "helm", "template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION, *args
    )
    if proc.returncode != 0:
        raise HelmFailed(proc.stderr + proc.stdout)
    return proc.stdout


def objects(rendered: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendered manifest stream."""
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def find(objs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> list[dict[str, Any]]:
    """Objects of ``kind`` whose name ends with ``name_suffix``."""
    return [o for o in objs if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]


def one(objs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    """The one object of ``kind`` whose name ends with ``name_suffix``."""
    found = find(objs, kind, name_suffix)
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Pod, a DaemonSet/Deployment or a CronJob."""
    if obj["kind"] == "Pod":
        spec: dict[str, Any] = obj["spec"]
    elif obj["kind"] == "CronJob":
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        spec = obj["spec"]["template"]["spec"]
    return spec


def _strict(node: Any) -> Any:
    # kubeconform -strict needs schemas that refuse unknown fields, as openapi2jsonschema --strict
    # makes them: every object schema that lists its properties gets additionalProperties false.
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def kubeconform_schemas(dest: Path) -> Path:
    """A folder kubeconform reads offline: kubernetes-validate's strict schemas and the operator CRDs
    (those `inferwatch build` validates with, bundled in the package).

    kubernetes-validate's schemas carry https://kubernetes.io/ ids and point at "/api/_definitions.json";
    without the ids their references resolve to the file next door, so nothing is fetched.
    """
    src = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{K8S_SCHEMA_VERSION}-local-strict"
    dest.mkdir(parents=True, exist_ok=True)
    for path in src.glob("*.json"):
        schema = json.loads(path.read_text().replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        (dest / path.name).write_text(json.dumps(schema))
    crd_dir = reference_path("prometheus-operator-crds")
    crds = [crd_dir / f"monitoring.coreos.com_{name}.yaml" for name in CRDS] + [CERT_MANAGER_CRD]
    for path in crds:
        crd = yaml.safe_load(path.read_text())
        kind = crd["spec"]["names"]["kind"].lower()
        group = crd["spec"]["group"].split(".")[0]
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            (dest / f"{kind}-{group}-{version['name']}.json").write_text(json.dumps(schema))
    return dest


def copy_chart(dest: Path) -> Path:
    """A copy of the chart under ``dest`` (to add files a test needs, e.g. a fixture dashboard)."""
    target = dest / "inferwatch"
    shutil.copytree(CHART, target)
    return target
