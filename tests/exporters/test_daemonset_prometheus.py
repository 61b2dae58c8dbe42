"""A real Prometheus scraping a DaemonSet-mode exporter with the generated scrape config.

The exporter runs as `inferwatch exporter run --mode daemonset` over simulated GPUs and reads a
real gRPC pod-resources server (the kubelet's API) on a unix socket. Its target carries the
exporter pod's own labels, as Kubernetes service discovery would attach them; the GPU must still
be attributed to the workload's namespace and pod, which only holds when the scrape honours the
labels the exporter serves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import yaml

from inferwatch import contract
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.exporters.simulated import SimulatedNvml
from inferwatch.localstack import prometheus_config
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation, PodResourcesServer
from inferwatch.localstack.processes import wait_for
from tests.conftest import Starter
from tests.support.exporter import exporter_process, scrape

EXPORTER_POD = {"namespace": "inferwatch-system", "pod": "inferwatch-node-x7k2p", "container": "exporter"}


def _query(prometheus_url: str, expr: str) -> list[dict[str, object]]:
    r = httpx.get(prometheus_url + "/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    result: list[dict[str, object]] = r.json()["data"]["result"]
    return result


def test_daemonset_gpu_is_attributed_to_the_workload_namespace(tmp_path: Path, prometheus_factory: Starter) -> None:
    gpu0, gpu1 = (g.uuid for g in SimulatedNvml(2).gpus)  # the simulator's UUIDs are deterministic
    socket_dir = Path(tmp_path / "pr")
    socket_dir.mkdir()
    socket_path = socket_dir / "kubelet.sock"
    node = NodeAllocation(
        assignments=(ContainerDevices("llm", "vllm-0", "vllm", GPU_RESOURCE, (gpu0,)),),
        allocatable={GPU_RESOURCE: (gpu0, gpu1)},
    )
    kubelet = PodResourcesServer(socket_path, node)
    args = ["--mode", "daemonset", "--gpu-backend", "simulated", "--simulated-gpus", "2",
            "--pod-resources-socket", str(socket_path)]  # fmt: skip
    try:
        with exporter_process(tmp_path / "exp", args) as exp:
            # The committed local-stack config's exporter job, pointed at this exporter and labelled
            # like a DaemonSet pod found by Kubernetes service discovery.
            job = next(t for t in prometheus_config.DEFAULT_LOCAL_STACK.targets if t.job == "inferwatch-exporter")
            target = dataclasses.replace(job, address=exp.url.removeprefix("http://"), labels=EXPORTER_POD)
            stack = prometheus_config.LocalStack(targets=(target,), scrape_interval="1s", evaluation_interval="1s")
            config = tmp_path / "prometheus.yml"
            config.write_text(prometheus_config.render_yaml(stack))
            prom = prometheus_factory(config, tmp_path / "prom")

            allocation = contract.GPU_ALLOCATION.name
            wait_for(lambda: bool(_query(prom.url, allocation)), f"{allocation} in Prometheus", timeout=30)
            (series,) = _query(prom.url, allocation)
            labels = series["metric"]
            assert isinstance(labels, dict)
            assert (labels["gpu_uuid"], labels["namespace"], labels["pod"], labels["container"], labels["source"]) == (
                gpu0,
                "llm",
                "vllm-0",
                "vllm",
                "kubelet",
            ), labels
            assert "exported_namespace" not in labels
            # Series without workload labels still get the exporter pod's target labels.
            up = _query(prom.url, f'{contract.GPU_UP.name}{{gpu_uuid="{gpu1}"}}')
            assert [s["metric"]["namespace"] for s in up] == ["inferwatch-system"]  # type: ignore[index]

            # What the DaemonSet serves is all in the contract.
            served = {name for name in scrape(exp.url) if name.startswith(contract.PREFIX)}
            assert served <= set(contract.BY_NAME), served - set(contract.BY_NAME)
            assert {contract.PODRESOURCES_UP.name, allocation} <= served
    finally:
        kubelet.stop()


def test_the_generated_config_honours_the_exporter_labels(repo_root: Path) -> None:
    committed = yaml.safe_load((repo_root / prometheus_config.LOCAL_CONFIG_PATH).read_text())
    jobs = {j["job_name"]: j for j in committed["scrape_configs"]}
    assert jobs["inferwatch-exporter"]["honor_labels"] is True
    assert "honor_labels" not in jobs["vllm"]  # vLLM serves no namespace/pod labels of its own
