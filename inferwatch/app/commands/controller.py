"""`inferwatch controller`: the SLO controller (InferenceSLO -> PrometheusRule + status), and its CRD."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from inferwatch.app.context import AppContext, pass_app
from inferwatch.app.controller.crd import render_crd
from inferwatch.app.controller.health import serve_health
from inferwatch.app.controller.kube import KubernetesCluster
from inferwatch.app.controller.leader import LeaseElector, LeaseSettings
from inferwatch.app.controller.reconciler import Reconciler
from inferwatch.app.controller.runtime import Runtime, RuntimeSettings
from inferwatch.config.durations import duration_seconds
from inferwatch.errors import InferwatchError, UsageError
from inferwatch.prom import PrometheusReader

log = logging.getLogger(__name__)


class LeaseLostError(InferwatchError):
    """This replica lost the leader Lease: it exits so Kubernetes restarts it as a follower."""


def _namespaced(value: str | None, option: str) -> tuple[str, str] | None:
    if not value:
        return None
    namespace, sep, name = value.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise UsageError(f"{option} {value!r}: use NAMESPACE/NAME")
    return namespace, name


@click.group(name="controller")
def controller() -> None:
    """The SLO controller: InferenceSLOs in, PrometheusRules and budgets in status out."""


@controller.command(name="crd")
def crd_command() -> None:
    """Print the InferenceSLO CustomResourceDefinition (the chart ships the same file in crds/)."""
    click.echo(render_crd(), nl=False)


@controller.command(name="run")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="KUBECONFIG",
    default=None,
    help="kubeconfig to use (default: the pod's ServiceAccount, in-cluster).",
)
@click.option("--context", default=None, help="kubeconfig context.")
@click.option("--namespace", "-n", default=None, help="Watch InferenceSLOs of this namespace only (default: all).")
@click.option(
    "--config-map",
    "config_map",
    default=None,
    help="NAMESPACE/NAME of the chart's ConfigMap (inferwatch.yaml and rules.yaml): thresholds, prices and "
    "the global rules it generates; watched, so `helm upgrade --set` takes effect without a restart.",
)
@click.option(
    "--prometheus-url",
    default=None,
    help="Prometheus to read buckets, retention and budgets from (default: prometheus.url of the configuration).",
)
@click.option("--status-period", default="60s", show_default=True, help="How often every status is refreshed.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Parallel steps.")
@click.option(
    "--leader-elect/--no-leader-elect",
    default=True,
    show_default=True,
    help="Hold a Lease before acting, so several replicas are safe.",
)
@click.option(
    "--lease",
    "lease_ref",
    default=None,
    help="NAMESPACE/NAME of the Lease (default: the ConfigMap's namespace, inferwatch-controller).",
)
@click.option(
    "--health-port",
    default=8081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of /healthz and /readyz for the kubelet's probes (0: none).",
)
@pass_app
def run_command(
    app: AppContext,
    kubeconfig: Path | None,
    context: str | None,
    namespace: str | None,
    config_map: str | None,
    prometheus_url: str | None,
    status_period: str,
    workers: int,
    leader_elect: bool,
    lease_ref: str | None,
    health_port: int,
) -> None:
    """Reconcile InferenceSLOs into PrometheusRules and write their budgets into status until stopped.

    Exits 0 on SIGTERM, 1 when it loses the leader Lease, 2 on bad options.
    """
    try:
        period = duration_seconds(status_period)
    except ValueError as err:
        raise UsageError(f"--status-period: {err}") from None
    if period < 5:
        raise UsageError("--status-period: at least 5s")
    configmap = _namespaced(config_map, "--config-map")
    lease = _namespaced(lease_ref, "--lease") or ((configmap[0] if configmap else "default"), "inferwatch-controller")
    config = app.config
    settings = (
        config.prometheus if prometheus_url is None else config.prometheus.model_copy(update={"url": prometheus_url})
    )
    cluster = KubernetesCluster.connect(str(kubeconfig) if kubeconfig else None, context)
    reconciler = Reconciler(cluster, PrometheusReader(settings), config)
    runtime = Runtime(reconciler, cluster, RuntimeSettings(namespace, configmap, float(period), workers))
    finished = threading.Event()
    lost = threading.Event()
    if health_port:
        serve_health("0.0.0.0", health_port, runtime.healthy)

    def on_term(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        finished.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def lead() -> None:
        log.info("leading: reconciling InferenceSLOs%s", f" of {namespace}" if namespace else "")
        runtime.prime()
        runtime.start()

    def stopped() -> None:
        lost.set()
        finished.set()

    elector = LeaseElector(cluster.client, LeaseSettings(*lease)) if leader_elect else None
    if elector is not None:
        thread = threading.Thread(
            target=elector.run, args=(lead, stopped, finished), name="leader-election", daemon=True
        )
        thread.start()
    else:
        lead()
    finished.wait()
    runtime.shutdown()
    if elector is not None and not lost.is_set():
        thread.join(timeout=5)
    if lost.is_set():
        raise LeaseLostError(f"lost the Lease {lease[0]}/{lease[1]}: exiting so another replica leads")
