"""The operator's view, end to end: the chart and the vLLM workload on the test API server,
prometheus-operator turning the chart's monitors and rules into Prometheus's configuration, and a
Prometheus on that configuration discovering and scraping real processes behind the pods' IPs.

- A `Prometheus` resource selects on `release: kube-prometheus-stack` as kube-prometheus-stack's does.
- The chart is installed as docs/deploy.md says (namespace labelled privileged); the workload is
  deploy/workloads/vllm/deployment.yaml applied server-side (one replica).
- The controllers make the pods (DaemonSet, ReplicaSet); the test plays the kubelet: it binds them to
  a fake GPU node, gives each a network namespace with its own IP (tests/k8s/netns.py), starts
  there what the pod spec says (llm-d-inference-sim as vLLM and the sidecar with the pod's args and
  env; the DaemonSet's exporter with its args and the chart's config, reading a local kubelet's
  pod-resources socket), and reports the pods Running and Ready.
- The generated config and rule files pass promtool; Prometheus (built with Kubernetes SD) runs on
  that config with a kubeconfig for the test API server added to each discovery block.

The GPU backend is the exporter's simulated one (no GPU here): the only settings replaced.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from lightkube import Client
from lightkube.codecs import load_all_yaml
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret
from lightkube.types import PatchType

from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.localstack import launchers
from inferwatch.localstack.kube import KubeCluster
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, WaitTimeoutError, http_ok, wait_for
from inferwatch.tools import Toolbox
from tests.k8s import netns
from tests.k8s.conftest import PSA
from tests.k8s.netns import PodNetwork
from tests.k8s.support import CHART, WORKLOADS, add_gpu_node, ensure_namespace, helm_ok

PrometheusCR = create_namespaced_resource("monitoring.coreos.com", "v1", "Prometheus", "prometheuses")
SELECTOR = {"release": "kube-prometheus-stack"}
MODEL = "qwen2.5-1.5b-instruct"
SIMULATED = {"INFERWATCH_EXPORTER__GPU_BACKEND": "simulated", "INFERWATCH_EXPORTER__SIMULATED_NVML_LATENCIES": "false"}
# One simulated GPU of the node (the simulated backend's first UUID), held by the vLLM pod's container.
GPU0 = "GPU-50000000-0000-4000-8000-000000000000"
GPU1 = "GPU-50000001-0000-4000-8000-000000000001"
EXPORTER_JOB = "serviceMonitor/inferwatch/inferwatch-exporter/0"
SIDECAR_JOB = "podMonitor/inferwatch/inferwatch-sidecars/0"


@dataclass
class World:
    prometheus: ManagedProcess
    vllm_pod: str
    full_pod: str
    exporter_pod: str
    config: Path
    rules: list[Path]
    vllm_url: str

    def request(self) -> None:
        """One chat completion from the simulated vLLM, at its pod IP."""
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
        httpx.post(f"{self.vllm_url}/v1/chat/completions", json=body, timeout=30).raise_for_status()

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        return list(r.json()["data"]["result"])

    def targets(self) -> str:
        """Prometheus's active targets, for assertion messages."""
        r = httpx.get(f"{self.prometheus.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return json.dumps([(t["scrapePool"], t["scrapeUrl"], t["health"], t["lastError"]) for t in r], indent=1)

    def wait_series(self, promql: str, timeout: float = 120) -> list[dict[str, Any]]:
        return wait_for(lambda: self.query(promql), f"{promql} in Prometheus", timeout=timeout, interval=1)


def _resolve_env(container: dict[str, Any], pod: Pod) -> dict[str, str]:
    """The container's environment as the kubelet would set it (values and downward-API fields)."""
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var.get("valueFrom", {}).get("fieldRef"):
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            assert pod.metadata is not None
            env[var["name"]] = {"metadata.name": pod.metadata.name, "metadata.namespace": pod.metadata.namespace}[path]
    return env


def _run_as_kubelet(cluster: KubeCluster, kube: Client, pod: Pod, node: str, net: PodNetwork) -> None:
    """Bind ``pod`` to ``node`` and report it Running and Ready at the network's pod IP."""
    assert pod.metadata and pod.metadata.name and pod.metadata.namespace
    name, ns = pod.metadata.name, pod.metadata.namespace
    if not (pod.spec and pod.spec.nodeName):
        # raw: the API server answers a Binding with a Status, which lightkube 1.0.1 cannot decode
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name},
            "target": {"kind": "Node", "name": node},
        }
        resp = cluster.api("POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding", json.dumps(body).encode())
        assert resp.status_code == 201, resp.text
    ready = [{"type": t, "status": "True"} for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    status = {"phase": "Running", "podIP": net.pod_ip, "podIPs": [{"ip": net.pod_ip}], "hostIP": net.host_ip,
              "conditions": ready}  # fmt: skip
    kube.patch(Pod.Status, name, {"status": status}, namespace=ns, patch_type=PatchType.MERGE)


def _containers(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec.get("initContainers", []) + pod_spec["containers"]}


def _start_vllm_pod(
    group: ProcessGroup, tools: Toolbox, pod: Pod, net: PodNetwork, workdir: Path, *, full: bool = False
) -> None:
    """llm-d-inference-sim where the vllm container is, the sidecar with its own args and env.
    ``full``: the simulator reports fixed numbers instead (its KV cache 97 % used)."""
    spec = _containers(pod.spec.to_dict())  # type: ignore[union-attr]
    vllm, sidecar = spec["vllm"], spec["inferwatch-exporter"]
    served = vllm["args"][vllm["args"].index("--served-model-name") + 1]
    port = vllm["args"][vllm["args"].index("--port") + 1]
    sim = [str(tools.path("llm-d-inference-sim")), "--port", port, "--model", served]
    if full:
        sim += ["--fake-metrics", json.dumps({"kv-cache-usage": 0.97, "running-requests": 1, "waiting-requests": 2})]
    name = f"vllm-pod-{net.name}"
    mp = group.spawn(f"{name}-sim", net.exec_argv(sim), f"http://{net.pod_ip}:{port}")
    wait_for(http_ok(f"{mp.url}/metrics"), "the simulator in the vLLM pod", timeout=60, watch=[mp])
    assert sidecar["command"] == ["inferwatch"]
    env = {**os.environ, **_resolve_env(sidecar, pod), **SIMULATED, "HOME": str(workdir)}
    argv = net.exec_argv([sys.executable, "-m", "inferwatch", *sidecar["args"]])
    port_metrics = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == "iw-metrics")
    mp = group.spawn(f"{name}-sidecar", argv, f"http://{net.pod_ip}:{port_metrics}", env=env, cwd=workdir)
    wait_for(http_ok(f"{mp.url}/readyz"), "the sidecar's /readyz", timeout=60, watch=[mp])


def _start_exporter_pod(
    group: ProcessGroup, kube: Client, pod: Pod, net: PodNetwork, workdir: Path, socket: Path
) -> None:
    """The DaemonSet's exporter with its args, the chart's inferwatch.yaml and the local kubelet's socket."""
    container = _containers(pod.spec.to_dict())["exporter"]  # type: ignore[union-attr]
    cm = kube.get(ConfigMap, "inferwatch-config", namespace="inferwatch")
    config = workdir / "inferwatch.yaml"
    config.write_text((cm.data or {})["inferwatch.yaml"])
    args = [str(config) if a == "/etc/inferwatch/inferwatch.yaml" else a for a in container["args"]]
    env = {**os.environ, **_resolve_env(container, pod), **SIMULATED, "HOME": str(workdir),
           "INFERWATCH_EXPORTER__POD_RESOURCES_SOCKET": str(socket)}  # fmt: skip
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")
    argv = net.exec_argv([sys.executable, "-m", "inferwatch", *args])
    mp = group.spawn("exporter-pod", argv, f"http://{net.pod_ip}:{port}", env=env, cwd=workdir)
    wait_for(http_ok(f"{mp.url}/readyz"), "the DaemonSet exporter's /readyz", timeout=60, watch=[mp])


def _generated_config(kube: Client, cluster: KubeCluster, workdir: Path) -> tuple[Path, list[Path]]:
    """The operator's Prometheus config and rule files, made runnable here."""
    secret = wait_for(lambda: _secret_with_jobs(kube), "the operator's config with both jobs", timeout=120, interval=1)
    text = gzip.decompress(secret).decode().replace("$(SHARD)", "0").replace("$(POD_NAME)", "prometheus-k8s-0")
    config = yaml.safe_load(text)
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    cms = wait_for(lambda: _rule_configmaps(kube), "the operator's rule files", timeout=120, interval=1)
    rules = []
    for cm in cms:
        for name, body in (cm.data or {}).items():
            (rules_dir / name).write_text(body)
            rules.append(rules_dir / name)
    config["rule_files"] = [str(rules_dir / "*.yaml")]
    for job in config.get("scrape_configs", []):
        for sd in job.get("kubernetes_sd_configs", []):
            sd["kubeconfig_file"] = str(cluster.kubeconfig)
    path = workdir / "prometheus.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, rules


def _two(pods: Iterator[Pod]) -> tuple[Pod, Pod] | None:
    found = sorted(pods, key=lambda p: str(p.metadata.name if p.metadata else ""))
    return (found[0], found[1]) if len(found) == 2 else None


def _secret_with_jobs(kube: Client) -> bytes | None:
    import base64

    try:
        s = kube.get(Secret, "prometheus-k8s", namespace="monitoring")
    except Exception:  # noqa: BLE001 - not there yet
        return None
    data = base64.b64decode((s.data or {}).get("prometheus.yaml.gz", ""))
    text = gzip.decompress(data).decode() if data else ""
    return data if EXPORTER_JOB in text and SIDECAR_JOB in text else None


def _rule_configmaps(kube: Client) -> list[ConfigMap]:
    cms = [
        c for c in kube.list(ConfigMap, namespace="monitoring") if c.metadata and "rulefiles" in str(c.metadata.name)
    ]
    return cms if sum(len(c.data or {}) for c in cms) >= 5 else []


@pytest.fixture(scope="module")
def world(
    kube_cluster: KubeCluster, kube: Client, prometheus_operator: ManagedProcess, k8s_group: ProcessGroup,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:  # fmt: skip
    why = netns.available()
    if why:
        pytest.fail(f"pod networks unavailable: {why}")
    workdir = tmp_path_factory.mktemp("e2e")
    tools = kube_cluster.tools
    for ns, labels in (("monitoring", {}), ("inferwatch", {PSA: "privileged"}), ("llm", {})):
        ensure_namespace(kube, ns, labels)
    # Selectors as kube-prometheus-stack's (the release label), but only this module's release: the
    # session's other modules install the chart too, with the same label, in other namespaces.
    ours = {"matchLabels": {"kubernetes.io/metadata.name": "inferwatch"}}
    prom_spec = {
        "serviceMonitorSelector": {"matchLabels": SELECTOR}, "podMonitorSelector": {"matchLabels": SELECTOR},
        "ruleSelector": {"matchLabels": SELECTOR}, "serviceMonitorNamespaceSelector": ours,
        "podMonitorNamespaceSelector": ours, "ruleNamespaceSelector": ours, "evaluationInterval": "5s",
        "scrapeInterval": "5s",
    }  # fmt: skip
    kube.create(PrometheusCR(metadata=ObjectMeta(name="k8s", namespace="monitoring"), spec=prom_spec))
    nets = [PodNetwork.create(i) for i in range(3)]
    kubelet: PodResourcesServer | None = None
    try:
        add_gpu_node(kube, "gpu-e2e", address=nets[0].host_ip)
        fast = [
            f"--set=monitoring.{m}.{k}"
            for m in ("serviceMonitor", "podMonitor")
            for k in ("interval=5s", "scrapeTimeout=4s")
        ]
        helm_ok(kube_cluster, "install", "inferwatch", str(CHART), "-n", "inferwatch", *fast)
        for obj in load_all_yaml((WORKLOADS / "vllm" / "deployment.yaml").read_text()):
            kube.apply(obj, force=True)  # a Deployment of two replicas and its Service
        vllm_pod, full_pod = wait_for(lambda: _two(kube.list(Pod, namespace="llm")), "the vLLM pods", timeout=60)
        exporter_pod = wait_for(lambda: list(kube.list(Pod, namespace="inferwatch")), "the exporter pod", timeout=60)[0]
        _run_as_kubelet(kube_cluster, kube, vllm_pod, "gpu-e2e", nets[1])
        _run_as_kubelet(kube_cluster, kube, full_pod, "gpu-e2e", nets[2])
        _run_as_kubelet(kube_cluster, kube, exporter_pod, "gpu-e2e", nets[0])
        socket = workdir / "kubelet" / "pod-resources.sock"
        held = tuple(
            ContainerDevices("llm", str(p.metadata.name), "vllm", GPU_RESOURCE, (gpu,))  # type: ignore[union-attr]
            for p, gpu in ((vllm_pod, GPU0), (full_pod, GPU1))
        )
        kubelet = PodResourcesServer(socket, NodeAllocation(held, {GPU_RESOURCE: (GPU0, GPU1)}))
        _start_vllm_pod(k8s_group, tools, vllm_pod, nets[1], workdir)
        _start_vllm_pod(k8s_group, tools, full_pod, nets[2], workdir, full=True)
        _start_exporter_pod(k8s_group, kube, exporter_pod, nets[0], workdir, socket)
        config, rules = _generated_config(kube, kube_cluster, workdir)
        prometheus = launchers.start_prometheus(k8s_group, tools, config, workdir / "data", name="prometheus-k8s-sd",
                                                cwd=workdir, log_path=workdir / "prometheus.log")  # fmt: skip
        assert vllm_pod.metadata and exporter_pod.metadata
        assert full_pod.metadata
        world = World(prometheus, str(vllm_pod.metadata.name), str(full_pod.metadata.name),
                      str(exporter_pod.metadata.name), config, rules, f"http://{nets[1].pod_ip}:8000")  # fmt: skip
        world.request()
        yield world
    finally:
        for mp in list(k8s_group.processes):
            if mp.name == "prometheus-k8s-sd" or mp.name.startswith(("exporter-pod", "vllm-pod-")):
                k8s_group.stop(mp.name)
        if kubelet is not None:
            kubelet.stop()
        for net in nets:
            net.delete()


def test_generated_config_and_rule_files_pass_promtool(world: World, k8s_tools: Toolbox) -> None:
    checked = k8s_tools.run("promtool", "check", "config", "--syntax-only", str(world.config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    checked = k8s_tools.run("promtool", "check", "rules", *map(str, world.rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(world.rules) == 5


def _all_up(world: World, job: str) -> list[dict[str, Any]] | None:
    up = world.query(f'up{{job="{job}"}}')
    return up if up and all(s["value"][1] == "1" for s in up) and len(up) == (1 if "exporter" in job else 2) else None


def test_both_jobs_find_their_pods_and_are_up(world: World) -> None:
    # the job labels the operator gives: the Service's name, and <namespace>/<PodMonitor name>
    for job in ("inferwatch-exporter", "inferwatch/inferwatch-sidecars"):
        try:
            up = wait_for(lambda j=job: _all_up(world, j), f"every {job} target up", timeout=60, interval=1)
        except WaitTimeoutError:
            pytest.fail(f"{job}: not every target is up; Prometheus's targets:\n{world.targets()}")
        assert len(up) == (1 if job == "inferwatch-exporter" else 2), (job, up)
    sidecars = world.query('up{job="inferwatch/inferwatch-sidecars"}')
    assert {(s["metric"]["namespace"], s["metric"]["pod"]) for s in sidecars} == {
        ("llm", world.vllm_pod),
        ("llm", world.full_pod),
    }
    (exporter,) = world.query('up{job="inferwatch-exporter"}')
    assert exporter["metric"]["pod"] == world.exporter_pod and exporter["metric"]["node"] == "gpu-e2e"


def test_normalized_series_carry_the_workloads_namespace_pod_and_model(world: World) -> None:
    series = world.wait_series(f'inferwatch:vllm_requests_waiting:sum{{pod="{world.vllm_pod}"}}')
    labels = series[0]["metric"]
    assert (labels["namespace"], labels["pod"], labels["model_name"]) == ("llm", world.vllm_pod, MODEL), labels
    # GPU attribution: the kubelet's word through the DaemonSet (honorLabels), not the exporter's own pod
    # (until the DaemonSet's target is first scraped, the sidecars' claims stand in: both claim every GPU)
    query = f'inferwatch:gpu_allocation:ratio{{gpu_uuid="{GPU0}"}}'

    def kubelets_word() -> list[dict[str, Any]] | None:
        found = world.query(query)
        return (
            found
            if [(s["metric"]["namespace"], s["metric"]["pod"]) for s in found] == [("llm", world.vllm_pod)]
            else None
        )

    try:
        wait_for(kubelets_word, "GPU0 attributed to the pod the kubelet assigned it to", timeout=90, interval=1)
    except WaitTimeoutError:
        raw = [s["metric"] for s in world.query(f'inferwatch_gpu_allocation_ratio{{gpu_uuid="{GPU0}"}}')]
        pytest.fail(f"{world.query(query)}\nraw: {raw}")
    total = world.query(f'sum(inferwatch:gpu_allocation:ratio{{gpu_uuid="{GPU0}"}})')
    assert float(total[0]["value"][1]) == pytest.approx(1.0)


def test_cost_per_namespace_and_an_slo_series_appear(world: World) -> None:
    cost = world.wait_series('inferwatch:cost_allocated_gpu_seconds:rate{namespace="llm"}', timeout=150)
    assert cost
    query = 'inferwatch:slo_total_events:rate5m{namespace="llm", slo="chat-ttft"}'
    for _ in range(120):  # traffic while Prometheus scrapes: the SLO rules count requests per second
        world.request()
        if world.query(query):
            break
        time.sleep(1)
    assert world.query(query), "no SLO series after two minutes of traffic"


def test_an_alert_fires_through_the_generated_rules(world: World) -> None:
    """The second replica's simulator reports its KV cache 97 % full: VLLMKVCacheNearlyFull (> 95 %
    for 2m) goes pending, then fires, with the workload's labels (run last: the rule's 2 minutes
    mostly pass while the other tests run)."""
    query = 'ALERTS{alertname="VLLMKVCacheNearlyFull"}'
    labels = world.wait_series(query, timeout=90)[0]["metric"]
    assert (labels["namespace"], labels["pod"], labels["model_name"]) == ("llm", world.full_pod, MODEL), labels
    world.wait_series(query.replace("}", ', alertstate="firing"}'), timeout=180)
