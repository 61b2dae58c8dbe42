"""The demo's monitoring: the pager, Alertmanager on the generated routing, Prometheus on the generated config.

Prometheus runs on the generated scrape configuration (inferwatch.localstack.prometheus_config)
and every generated rule file, Alertmanager on the generated routing (inferwatch.alerts.alertmanager)
with its receivers pointed at the local pager; all are generated from the demo's configuration
(demo.yaml) by the same generators `inferwatch build` runs.
"""

from __future__ import annotations

from pathlib import Path

from inferwatch.alerts.alertmanager import Receivers, render_alertmanager_config
from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import ArtifactKind
from inferwatch.config import InferwatchConfig
from inferwatch.demo.config import RETENTION
from inferwatch.demo.fleet import POLL_S
from inferwatch.demo.topology import Topology
from inferwatch.localstack.launchers import start_alertmanager, start_prometheus
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup
from inferwatch.localstack.prometheus_config import LocalStack, render_yaml
from inferwatch.localstack.receiver import WebhookReceiver
from inferwatch.tools import Toolbox


def rule_files(config: InferwatchConfig) -> dict[str, str]:
    """Every generated rule file for the demo config, by file name."""
    return {Path(a.path).name: a.content for a in generate_all(config) if a.kind == ArtifactKind.PROMETHEUS_RULES}


def start_pager(topo: Topology, out_dir: Path) -> WebhookReceiver:
    """The webhook receiver recording every notification to ``<out_dir>/pages.jsonl`` (a fresh one)."""
    (out_dir / "pages.jsonl").unlink(missing_ok=True)
    receiver = WebhookReceiver(topo.settings.ports.receiver, out_dir / "pages.jsonl")
    receiver.start()
    return receiver


def start_routing(
    group: ProcessGroup, tools: Toolbox, topo: Topology, pager_url: str, work_dir: Path
) -> ManagedProcess:
    """Alertmanager with the generated routing, its page and ticket receivers on the pager."""
    am_config = work_dir / "alertmanager.yml"
    receivers = Receivers(page_url=f"{pager_url}/page", ticket_url=f"{pager_url}/ticket")
    am_config.write_text(render_alertmanager_config(receivers))
    return start_alertmanager(
        group, tools, am_config, work_dir / "alertmanager", port=topo.settings.ports.alertmanager,
        timeout=60, interval=POLL_S,
    )  # fmt: skip


def start_server(
    group: ProcessGroup, tools: Toolbox, topo: Topology, config: InferwatchConfig, work_dir: Path
) -> ManagedProcess:
    """Prometheus 3 over the backfilled TSDB with the generated scrape config and every generated rule file."""
    settings = topo.settings
    rules_dir = work_dir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for name, content in rule_files(config).items():
        (rules_dir / name).write_text(content)
    stack = LocalStack(
        targets=tuple(topo.scrape_targets()),
        rule_files=("rules/*.yaml",),
        alertmanagers=(f"127.0.0.1:{settings.ports.alertmanager}",),
        scrape_interval=f"{settings.scrape_interval_s}s",
        evaluation_interval=f"{settings.evaluation_interval_s}s",
    )
    prom_config = work_dir / "prometheus.yml"
    prom_config.write_text(render_yaml(stack))
    return start_prometheus(
        group, tools, prom_config, work_dir / "tsdb", port=settings.ports.prometheus, retention=RETENTION,
        lifecycle=False, cwd=work_dir, timeout=180, interval=POLL_S,
    )  # fmt: skip
