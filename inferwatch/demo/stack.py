"""The demo's stack on loopback: simulators, exporters, a local kubelet, Prometheus, Alertmanager, a pager.

`Stack` starts the parts in dependency order and stops every one of them (also when start-up
fails half-way, or on Ctrl-C): the simulated fleet (fleet.py) on the addresses of topology.py,
the backfilled history (backfill.py), then the monitoring on the generated configuration
(monitoring.py). Every process runs in one `ProcessGroup` of the local stack
(inferwatch.localstack.processes).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from inferwatch.config import InferwatchConfig
from inferwatch.demo import fleet, monitoring
from inferwatch.demo.backfill import build_history
from inferwatch.demo.config import DemoSettings
from inferwatch.demo.errors import OutputNotWritableError, check_port_free
from inferwatch.demo.scenario import Scenario
from inferwatch.demo.topology import SimTarget, Topology
from inferwatch.demo.traffic import Endpoint
from inferwatch.localstack.podresources_server import PodResourcesServer
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, exited_error
from inferwatch.localstack.receiver import WebhookReceiver
from inferwatch.tools import Toolbox

REQUIRED_TOOLS = ("prometheus", "promtool", "alertmanager", "llm-d-inference-sim")

Progress = Callable[[str], None]


@dataclass
class Stack:
    """Every process and server of the demo, started in order and always stopped."""

    settings: DemoSettings
    config: InferwatchConfig
    scenario: Scenario
    tools: Toolbox
    out_dir: Path
    group: ProcessGroup = field(init=False)
    kubelet: PodResourcesServer | None = field(default=None, init=False)
    receiver: WebhookReceiver | None = field(default=None, init=False)
    prometheus: ManagedProcess | None = field(default=None, init=False)
    alertmanager: ManagedProcess | None = field(default=None, init=False)
    history_samples: int = field(default=0, init=False)
    history_span: tuple[datetime, datetime] | None = field(default=None, init=False)
    _kubelet_dir: Path | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.work_dir = self.out_dir / "stack"
        self.group = ProcessGroup(self.work_dir / "logs")
        self.topology = Topology.of(self.settings, self.scenario)

    @property
    def sims(self) -> tuple[SimTarget, ...]:
        """Every simulator rank, with its sidecar."""
        return self.topology.sims

    @property
    def prometheus_url(self) -> str:
        """Prometheus's HTTP API."""
        return self.topology.prometheus_url

    @property
    def alertmanager_url(self) -> str:
        """Alertmanager's HTTP API."""
        return self.topology.alertmanager_url

    @property
    def kubelet_socket(self) -> Path:
        """The local kubelet's pod-resources socket, in a short temporary folder (unix socket paths are short)."""
        if self._kubelet_dir is None:
            self._kubelet_dir = Path(tempfile.mkdtemp(prefix="inferwatch-kubelet-"))
        return self._kubelet_dir / "kubelet.sock"

    def endpoints(self) -> list[Endpoint]:
        """Where the load generator sends each model's requests."""
        return self.topology.endpoints()

    # ----- start-up ------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Fail before starting anything: a missing tool, a taken port, an unwritable output folder."""
        for tool in REQUIRED_TOOLS:
            self.tools.path(tool)
        ports = self.settings.ports
        check_port_free(ports.prometheus, "Prometheus")
        check_port_free(ports.alertmanager, "Alertmanager")
        check_port_free(ports.receiver, "the webhook receiver")
        check_port_free(ports.history_prometheus, "the history's helper Prometheus")
        check_port_free(ports.node_exporter, "the DaemonSet exporter")
        for i, s in enumerate(self.sims):
            check_port_free(s.sim_port, f"llm-d-inference-sim {s.model.pod} rank {s.rank}")
            check_port_free(s.sidecar_port, f"the sidecar exporter of {s.model.pod} rank {s.rank}")
            check_port_free(
                ports.engine_families(i), f"the load generator's vLLM families of {s.model.pod} rank {s.rank}"
            )
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".inferwatch-demo-write-test"
            probe.write_text("ok")
            probe.unlink()
            if self.work_dir.exists():
                shutil.rmtree(self.work_dir)
            self.work_dir.mkdir(parents=True)
        except OSError as err:
            raise OutputNotWritableError(
                f"output folder {self.out_dir} is not writable ({err.strerror or err}); pick another with --out"
            ) from None

    def start_models(self, progress: Progress) -> None:
        """Simulators, sidecars, the local kubelet and the DaemonSet exporter, each ready when this returns."""
        fleet.start_models(self.group, self.tools, self.topology, progress)
        progress("starting the local kubelet (pod-resources gRPC on a unix socket)")
        self.kubelet = PodResourcesServer(self.kubelet_socket, self.topology.node_allocation())
        progress("starting the DaemonSet exporter of gpu-node-1 (simulated GPUs)")
        fleet.start_node_exporter(self.group, self.topology, self.kubelet_socket)

    def build_history(self, progress: Progress) -> None:
        """Backfill the week (and the SLO window) of these very targets into the live Prometheus's TSDB."""
        self.history_samples, self.history_span = build_history(
            self.group, self.tools, self.topology, self.config, self.work_dir, progress
        )

    def start_monitoring(self, progress: Progress) -> None:
        """The pager, Alertmanager (generated routing) and Prometheus (generated config and rules)."""
        progress("starting the webhook receiver (the pager)")
        self.receiver = monitoring.start_pager(self.topology, self.out_dir)
        progress("starting Alertmanager with the generated routing")
        self.alertmanager = monitoring.start_routing(
            self.group, self.tools, self.topology, self.receiver.url, self.work_dir
        )
        progress("starting Prometheus 3 with the generated scrape config and rule files")
        self.prometheus = monitoring.start_server(self.group, self.tools, self.topology, self.config, self.work_dir)

    def check_alive(self) -> None:
        """Raise ComponentFailedError when a process of the stack died on its own."""
        dead = self.group.exited()
        if dead:
            raise exited_error(dead[0])

    # ----- shut-down ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process and server the stack started (safe to call more than once)."""
        self.group.stop_all()
        for s in self.sims:
            s.families.stop()
        if self.kubelet is not None:
            self.kubelet.stop()
            self.kubelet = None
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self._kubelet_dir is not None:
            shutil.rmtree(self._kubelet_dir, ignore_errors=True)
            self._kubelet_dir = None
