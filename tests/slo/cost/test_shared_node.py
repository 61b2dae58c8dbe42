"""Cost per namespace on a GPU node shared by two pods, end to end on a real Prometheus.

The node has four (simulated) GPUs. The kubelet (a real gRPC pod-resources server) has given
GPU 0 and GPU 1 to `team-a/chat-0` and GPU 2 to `team-b/search-0`; GPU 3 is free. The DaemonSet
exporter reads it. Each pod also runs the inferwatch sidecar the device-plugin manifests deploy,
with NVIDIA_VISIBLE_DEVICES=all: it sees all four GPUs and claims them for its own pod. Prometheus
scrapes the three exporters the way the chart's ServiceMonitor and PodMonitor do (honouring the
exporters' labels) and evaluates the generated normalization and cost rules. Each namespace must
pay for its own GPUs only, and the free GPU is idle cost; before the kubelet's answer overrode
the sidecars' claims, both namespaces paid for 2 GPUs and nothing was idle.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config import Pricing
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.exporters.simulated import SimulatedNvml
from inferwatch.localstack import prometheus_config
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.localstack.processes import wait_for
from inferwatch.rules import RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.slo.cost.rules import cost_groups
from tests.conftest import Starter
from tests.support.exporter import exporter_process

GPU_HOUR = 3.6  # $ per GPU-hour: one GPU costs $0.001 a second
GPUS = [g.uuid for g in SimulatedNvml(4).gpus]  # the simulator's UUIDs are deterministic
HOLDERS = {("team-a", "chat-0"): GPUS[:2], ("team-b", "search-0"): GPUS[2:3]}  # GPUS[3] is free
EXPORTER_POD = {"namespace": "inferwatch-system", "pod": "inferwatch-node-x7k2p", "container": "exporter"}


def _query(prometheus_url: str, expr: str) -> dict[tuple[str, ...], float]:
    r = httpx.get(prometheus_url + "/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    out: dict[tuple[str, ...], float] = {}
    for s in r.json()["data"]["result"]:
        labels = s["metric"]
        key = tuple(labels.get(k, "") for k in (n.GPU_UUID, n.NAMESPACE, n.POD) if k in labels)
        out[key] = float(s["value"][1])
    return out


def _rule_file(path: Path, groups: tuple[RuleGroup, ...]) -> str:
    # Every group each second, so the cost levels follow the scrapes within seconds.
    path.write_text(to_prometheus_yaml(RuleFile(tuple(dataclasses.replace(g, interval="1s") for g in groups))))
    return str(path)


def test_each_namespace_pays_for_its_own_gpus_on_a_shared_node(tmp_path: Path, prometheus_factory: Starter) -> None:
    socket_dir = tmp_path / "pr"
    socket_dir.mkdir()
    socket_path = socket_dir / "kubelet.sock"
    node = NodeAllocation(
        tuple(ContainerDevices(ns, pod, "vllm", GPU_RESOURCE, tuple(gpus)) for (ns, pod), gpus in HOLDERS.items()),
        allocatable={GPU_RESOURCE: tuple(GPUS)},
    )
    kubelet = PodResourcesServer(socket_path, node)
    simulated = ["--gpu-backend", "simulated", "--simulated-gpus", str(len(GPUS))]
    node_args = ["--mode", "daemonset", *simulated, "--pod-resources-socket", str(socket_path)]
    (ns_a, pod_a), (ns_b, pod_b) = HOLDERS

    def downward_api(namespace: str, pod: str) -> dict[str, str]:
        return {
            "INFERWATCH_EXPORTER__POD_NAMESPACE": namespace,
            "INFERWATCH_EXPORTER__POD_NAME": pod,
            "INFERWATCH_EXPORTER__CONTAINER_NAME": "vllm",
        }

    try:
        with (
            exporter_process(tmp_path / "node", node_args) as node_exporter,
            exporter_process(tmp_path / "sidecar-a", simulated, downward_api(ns_a, pod_a)) as sidecar_a,
            exporter_process(tmp_path / "sidecar-b", simulated, downward_api(ns_b, pod_b)) as sidecar_b,
        ):
            job = next(t for t in prometheus_config.DEFAULT_LOCAL_STACK.targets if t.job == "inferwatch-exporter")
            targets = [
                dataclasses.replace(job, address=node_exporter.url.removeprefix("http://"), labels=EXPORTER_POD),
                *(
                    # As the chart's PodMonitor finds them: the vLLM pod's labels, the exporter's kept.
                    dataclasses.replace(
                        job,
                        job="inferwatch-sidecars",
                        address=exp.url.removeprefix("http://"),
                        labels={"namespace": ns, "pod": pod, "container": "inferwatch"},
                    )
                    for exp, (ns, pod) in ((sidecar_a, (ns_a, pod_a)), (sidecar_b, (ns_b, pod_b)))
                ),
            ]
            rule_files = (
                _rule_file(tmp_path / "normalize.yaml", normalization_groups()),
                _rule_file(tmp_path / "cost.yaml", cost_groups(Pricing(default_gpu_hour=GPU_HOUR))),
            )
            stack = prometheus_config.LocalStack(
                targets=tuple(targets), rule_files=rule_files, scrape_interval="1s", evaluation_interval="1s"
            )
            config = tmp_path / "prometheus.yml"
            config.write_text(prometheus_config.render_yaml(stack))
            prom = prometheus_factory(config, tmp_path / "prom")

            per_gpu = GPU_HOUR / 3600
            expected_cost = {(ns, pod): len(gpus) * per_gpu for (ns, pod), gpus in HOLDERS.items()}
            expected_allocation = {(g, ns, pod): 1.0 for (ns, pod), gpus in HOLDERS.items() for g in gpus}
            seen: dict[str, dict[tuple[str, ...], float]] = {}

            def settled() -> bool:
                seen["cost"] = _query(prom.url, c.ALLOCATED_COST_RATE)
                seen["allocation"] = _query(prom.url, n.GPU_ALLOCATION)
                seen["idle"] = _query(prom.url, c.GPU_IDLE_COST_RATE)
                cost = seen["cost"]
                return cost.keys() == expected_cost.keys() and all(
                    abs(cost[k] - v) < 1e-9 for k, v in expected_cost.items()
                )

            try:
                wait_for(settled, "each pod's cost to be its own GPUs' price", timeout=60)
            except AssertionError as e:
                raise AssertionError(f"{e}; last seen in Prometheus: {seen}") from None
            # One allocation per GPU, its holder's; the sidecars' claims are in Prometheus all the same.
            assert seen["allocation"] == expected_allocation
            claims = _query(prom.url, 'inferwatch_gpu_allocation_ratio{source="sidecar"}')
            assert len(claims) == len(GPUS) * len(HOLDERS), claims
            # The free GPU is idle, the held ones are not; namespaces + idle = the node's bill.
            expected_idle = {(GPUS[3],): per_gpu, **{(g,): 0.0 for g in GPUS[:3]}}
            assert seen["idle"].keys() == expected_idle.keys(), seen["idle"]
            assert all(abs(seen["idle"][k] - v) < 1e-9 for k, v in expected_idle.items()), seen["idle"]
            assert abs(sum(seen["cost"].values()) + sum(seen["idle"].values()) - len(GPUS) * per_gpu) < 1e-9
    finally:
        kubelet.stop()
