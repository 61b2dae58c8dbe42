"""What the API server says about our objects and the commands the docs give: every workload manifest
applied server-side against the real KServe/KEDA/prometheus-operator CRDs, the pods that must pass
`restricted`, the API server's own errors for a malformed values file or manifest, and the docs'
upgrade, report and plain-Prometheus advice run for real."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client
from lightkube.codecs import from_dict
from lightkube.generic_resource import load_in_cluster_generic_resources
from lightkube.resources.batch_v1 import CronJob
from lightkube.resources.core_v1 import Pod, Service

from inferwatch.localstack.kube import KubeCluster
from tests.k8s.conftest import NamespaceMaker
from tests.k8s.support import CHART, REPO_ROOT, WORKLOADS, ensure_namespace, helm, helm_ok

MANIFESTS = sorted(p for p in WORKLOADS.rglob("*.yaml") if "kind:" in p.read_text())
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and "kind" in d]


@pytest.fixture(scope="module")
def crd_kinds(kube: Client) -> Client:
    """The client, with the cluster's CRDs known to it as resource kinds."""
    load_in_cluster_generic_resources(kube)
    return kube


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[str(p.relative_to(WORKLOADS)) for p in MANIFESTS])
def test_every_workload_manifest_applies_server_side(crd_kinds: Client, manifest: Path) -> None:
    """Server-side apply with dryRun=All: the API server's defaulting, structural schemas and CEL
    rules of the real CRDs, nothing stored."""
    ensure_namespace(crd_kinds, "llm")
    for doc in _documents(manifest):
        applied = crd_kinds.apply(from_dict(doc), force=True, dry_run=True)
        assert applied.metadata and applied.metadata.uid  # the server answered with the object


def test_llminferenceservice_pods_are_scraped_by_their_own_podmonitor_only() -> None:
    """Their pods carry no sidecar label (the chart's PodMonitor would scrape them a second time),
    and their PodMonitor keeps the sidecar's GPU attribution labels (honorLabels)."""
    chart_selector = "inferwatch.io/sidecar"
    for name in ("llminferenceservice.yaml", "llminferenceservice-pd.yaml"):
        svc, monitor = _documents(WORKLOADS / "kserve" / name)
        for part in ("", "prefill"):
            spec = svc["spec"].get(part, {}) if part else svc["spec"]
            labels = {**spec.get("labels", {}), **spec.get("template", {}).get("metadata", {}).get("labels", {})}
            assert chart_selector not in labels, (name, part)
        assert all(e.get("honorLabels") is True for e in monitor["spec"]["podMetricsEndpoints"]), name


# ---- Pod Security: what must pass `restricted` ----------------------------------------------------


def _sidecar_only_pod(manifest: Path) -> dict[str, Any]:
    deployment = next(d for d in _documents(manifest) if d["kind"] == "Deployment")
    spec = copy.deepcopy(deployment["spec"]["template"]["spec"])
    sidecar = next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == "inferwatch-exporter")
    sidecar.pop("restartPolicy", None)
    pod_spec = {k: v for k, v in spec.items() if k not in ("initContainers", "containers", "resourceClaims")}
    sidecar.get("resources", {}).pop("claims", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sidecar"},
        "spec": {**pod_spec, "containers": [sidecar]},
    }


@pytest.mark.parametrize("manifest", sorted((WORKLOADS / "vllm").glob("*.yaml")), ids=lambda p: p.name)
def test_the_sidecar_passes_restricted(kube: Client, namespace: NamespaceMaker, manifest: Path) -> None:
    ns = namespace("sidecar-restricted", psa="restricted")
    pod = from_dict(_sidecar_only_pod(manifest))
    kube.create(pod, namespace=ns, dry_run=True)  # 403 with the violated checks otherwise


def test_the_charts_report_and_test_pods_pass_restricted(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker
) -> None:
    """The report's and the test hook's pods, as the CronJob/hook would create them, in a restricted namespace."""
    ns = namespace("chart-restricted", psa="restricted")
    helm_ok(kube_cluster, "install", "inferwatch", str(CHART), "-n", ns, "--set", "exporter.attribution=false")
    cron = kube.get(CronJob, "inferwatch-cost-report", namespace=ns)
    assert cron.spec
    job_pod = cron.spec.jobTemplate.spec.template.to_dict()  # type: ignore[union-attr]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "report"}, "spec": job_pod["spec"]}
    kube.create(from_dict(pod), namespace=ns, dry_run=True)
    rendered = helm_ok(kube_cluster, "get", "hooks", "inferwatch", "-n", ns)
    (hook,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Pod"]
    kube.create(from_dict(hook), namespace=ns, dry_run=True)


def test_the_docs_report_reader_pod_passes_restricted(kube: Client, namespace: NamespaceMaker) -> None:
    """docs/deploy.md §6's `kubectl run reports … --overrides=…`, as the pod kubectl would create."""
    ns = namespace("reader", psa="restricted")
    text = DEPLOY_DOC.read_text()
    overrides = json.loads(re.search(r"--overrides='\n(.*?)'\n", text, re.S).group(1))  # type: ignore[union-attr]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reports"}, **overrides}
    kube.create(from_dict(pod), namespace=ns, dry_run=True)


# ---- the API server's errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"exporter": {"podLabels": {"gpu node!": "yes"}}}, 'spec.template.labels: Invalid value: "gpu node!"'),
        ({"costReport": {"schedule": "every monday"}}, 'spec.schedule: Invalid value: "every monday"'),
    ],
    ids=["label-key", "cron-schedule"],
)
def test_a_malformed_values_file_gets_the_api_servers_error(
    kube_cluster: KubeCluster, namespace: NamespaceMaker, tmp_path: Path, values: dict[str, Any], error: str
) -> None:
    """Values the schema lets through but Kubernetes refuses: the install fails with the API's words."""
    ns = namespace("malformed", psa="privileged")
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    proc = helm(kube_cluster, "install", "inferwatch", str(CHART), "-n", ns, "-f", str(path))
    assert proc.returncode != 0
    assert error in proc.stderr, proc.stderr


def test_a_malformed_manifest_gets_the_api_servers_error(crd_kinds: Client) -> None:
    ensure_namespace(crd_kinds, "llm")
    monitor = _documents(WORKLOADS / "kserve" / "llminferenceservice.yaml")[1]
    monitor["spec"]["podMetricsEndpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(ApiError) as err:
        crd_kinds.apply(from_dict(monitor), force=True, dry_run=True)
    assert err.value.status.code == 422
    assert "spec.podMetricsEndpoints[0].interval" in str(err.value.status.message)
    deployment = next(d for d in _documents(WORKLOADS / "vllm" / "deployment.yaml") if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["initContainers"][0]["ports"][0]["name"] = "inferwatch-metrics"
    with pytest.raises(ApiError) as err:
        crd_kinds.apply(from_dict(deployment), force=True, dry_run=True)
    assert "must be no more than 15 characters" in str(err.value.status.message)


# ---- the docs' commands on a real release -------------------------------------------------------------


def test_docs_upgrade_and_run_now_advice_works(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker
) -> None:
    """§6: --reset-then-reuse-values keeps what was --set before and takes the new chart's values; the
    report's week can be chosen; decimals go in with --set-json (a plain --set is refused)."""
    ns = namespace("docs-advice", psa="privileged")
    helm_ok(kube_cluster, "install", "inferwatch", str(CHART), "-n", ns, "--set", "costReport.schedule=0 7 * * 1")
    helm_ok(kube_cluster, "upgrade", "inferwatch", str(CHART), "-n", ns, "--reset-then-reuse-values",
            "--set", "costReport.week=current")  # fmt: skip
    cron = kube.get(CronJob, "inferwatch-cost-report", namespace=ns)
    assert cron.spec and cron.spec.schedule == "0 7 * * 1"
    args = cron.spec.jobTemplate.spec.template.spec.containers[0].args  # type: ignore[union-attr]
    assert args and args[args.index("--week") + 1] == "current"
    refused = helm(kube_cluster, "upgrade", "inferwatch", str(CHART), "-n", ns, "--reset-then-reuse-values",
                   "--set", "inferwatch.exporter.sample_interval_s=0.5")  # fmt: skip
    assert refused.returncode != 0 and "got string, want number" in refused.stderr
    helm_ok(kube_cluster, "upgrade", "inferwatch", str(CHART), "-n", ns, "--reset-then-reuse-values",
            "--set-json", "inferwatch.exporter.sample_interval_s=0.5")  # fmt: skip


def test_plain_prometheus_annotations_can_be_turned_off(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker
) -> None:
    ns = namespace("plain", psa="privileged")
    helm_ok(kube_cluster, "install", "inferwatch", str(CHART), "-n", ns, "--set", "monitoring.operator=false")
    svc = kube.get(Service, "inferwatch-exporter", namespace=ns)
    assert svc.metadata and (svc.metadata.annotations or {}).get("prometheus.io/scrape") == "true"
    helm_ok(kube_cluster, "upgrade", "inferwatch", str(CHART), "-n", ns, "--reset-then-reuse-values",
            "--set", "service.scrapeAnnotations=false")  # fmt: skip
    svc = kube.get(Service, "inferwatch-exporter", namespace=ns)
    assert svc.metadata and "prometheus.io/scrape" not in (svc.metadata.annotations or {})


def test_pods_of_the_release_are_not_left_behind_by_dry_runs(kube: Client) -> None:
    """The dry runs above stored nothing in `llm` (the end-to-end module's namespace) but what it made."""
    assert all(p.metadata and p.metadata.name != "sidecar" for p in kube.list(Pod, namespace="llm"))
