"""Where every part of the demo's stack listens, and what Prometheus scrapes there: plain data, no processes.

One llm-d-inference-sim process per model, its data-parallel ranks on consecutive ports; per rank a
sidecar exporter and the load generator's measured vLLM families (engine_families.py); one
DaemonSet exporter for the node, reading the local kubelet. Targets carry the labels Kubernetes'
service discovery would give them, so every rule and dashboard sees the same label sets here.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferwatch.demo.config import DemoSettings
from inferwatch.demo.engine_families import EngineFamilies
from inferwatch.demo.scenario import (
    GPU_COUNT,
    MIG_GPU,
    MIG_SLICES,
    NODE,
    TIME_SLICE_REPLICAS,
    TIME_SLICED_GPU,
    Model,
    Scenario,
    gpu_uuid,
    mig_uuid,
)
from inferwatch.demo.traffic import Endpoint
from inferwatch.exporters.podresources import ContainerDevices
from inferwatch.localstack.launchers import loopback
from inferwatch.localstack.podresources_server import GPU_RESOURCE, NodeAllocation
from inferwatch.localstack.prometheus_config import ScrapeTarget


@dataclass(frozen=True)
class SimTarget:
    """One llm-d-inference-sim rank and the sidecar exporter in front of it."""

    model: Model
    rank: int
    sim_port: int
    sidecar_port: int
    families: EngineFamilies

    @property
    def sim_url(self) -> str:
        """Base URL of the simulator rank (OpenAI API and /metrics)."""
        return loopback(self.sim_port)

    @property
    def sidecar_url(self) -> str:
        """Base URL of the sidecar exporter."""
        return loopback(self.sidecar_port)

    def _labels(self) -> dict[str, str]:
        labels = {"namespace": self.model.namespace, "pod": self.model.pod, "container": "inferwatch"}
        if self.model.data_parallel > 1:
            # vLLM labels data-parallel ranks `engine`; one simulator process per rank gets it as a target label.
            labels["engine"] = str(self.rank)
        return labels

    def scrape_target(self) -> ScrapeTarget:
        """What Prometheus scrapes: the sidecar, labelled like the pod's Kubernetes discovery would."""
        return ScrapeTarget("inferwatch-sidecar", f"127.0.0.1:{self.sidecar_port}", self._labels())

    def families_target(self) -> ScrapeTarget:
        """The rank's measured vLLM families, labelled like its sidecar (so normalized like its pass-through)."""
        return ScrapeTarget("inferwatch-load-generator", self.families.address, self._labels())


@dataclass(frozen=True)
class Topology:
    """The stack's addresses and scrape targets for one scenario on the settings' ports."""

    settings: DemoSettings
    scenario: Scenario
    sims: tuple[SimTarget, ...]

    @classmethod
    def of(cls, settings: DemoSettings, scenario: Scenario) -> Topology:
        """Every rank of every model of ``scenario``, on the ports of ``settings``."""
        ports = settings.ports
        sims: list[SimTarget] = []
        for i, m in enumerate(scenario.models):
            for rank in range(m.data_parallel):
                n = len(sims)
                families = EngineFamilies({"model_name": m.model}, ports.engine_families(n))
                sims.append(SimTarget(m, rank, ports.sim(i) + rank, ports.sidecar(n), families))
        return cls(settings, scenario, tuple(sims))

    @property
    def prometheus_url(self) -> str:
        """Prometheus's HTTP API."""
        return loopback(self.settings.ports.prometheus)

    @property
    def alertmanager_url(self) -> str:
        """Alertmanager's HTTP API."""
        return loopback(self.settings.ports.alertmanager)

    @property
    def node_exporter_url(self) -> str:
        """The DaemonSet-mode exporter."""
        return loopback(self.settings.ports.node_exporter)

    def ranks(self, m: Model) -> list[SimTarget]:
        """The simulator ranks of model ``m``."""
        return [s for s in self.sims if s.model is m]

    def endpoints(self) -> list[Endpoint]:
        """Where the load generator sends each model's requests."""
        return [
            Endpoint(m, tuple(s.sim_url for s in self.ranks(m)), tuple(s.families for s in self.ranks(m)))
            for m in self.scenario.models
        ]

    def scrape_targets(self) -> list[ScrapeTarget]:
        """Every target Prometheus scrapes: the backfilled ones and the load generator's measured families."""
        return [*self.history_targets(), *(s.families_target() for s in self.sims)]

    def history_targets(self) -> list[ScrapeTarget]:
        """The targets the history continues: every sidecar and the DaemonSet exporter (the measured
        families start with live traffic)."""
        node = ScrapeTarget(
            "inferwatch-node",
            f"127.0.0.1:{self.settings.ports.node_exporter}",
            # No namespace/pod target labels: the exporter's allocation series carry the namespace and
            # pod that hold each GPU, and target labels of the same name would rename them exported_*.
            {"node": NODE},
        )
        return [*(s.scrape_target() for s in self.sims), node]

    def node_allocation(self) -> NodeAllocation:
        """What the local kubelet says: the scenario's holdings, every GPU, replica and MIG instance allocatable."""
        assignments = tuple(
            ContainerDevices(h.namespace, h.pod, h.container, GPU_RESOURCE, h.device_ids)
            for h in self.scenario.holdings
        )
        allocatable: list[str] = []
        for i in range(GPU_COUNT):
            if i == TIME_SLICED_GPU:
                allocatable += [f"{gpu_uuid(i)}::{r}" for r in range(TIME_SLICE_REPLICAS)]
            elif i == MIG_GPU:
                allocatable += [mig_uuid(i, k) for k in range(len(MIG_SLICES))]
            else:
                allocatable.append(gpu_uuid(i))
        return NodeAllocation(assignments, {GPU_RESOURCE: tuple(allocatable)})
