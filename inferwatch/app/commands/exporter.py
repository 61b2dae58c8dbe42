"""`inferwatch exporter run`: the exporter from the `exporter:` settings (flags override), served until SIGTERM.

Kept light on purpose: a sidecar runs this for weeks, so this module loads the exporter's own
modules (inferwatch.exporters.run) and nothing of the SLO, cost or rule code.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from inferwatch.app.context import AppContext, pass_app
from inferwatch.config.exporter import ExporterSettings, light_exporter_settings
from inferwatch.exporters.run import build_app, check_start, configure_logging, web_setup
from inferwatch.exporters.server import serve

log = logging.getLogger(__name__)


def effective_settings(app: AppContext, flags: dict[str, Any]) -> ExporterSettings:
    """The `exporter:` settings with the CLI flags that were given applied over file and environment
    (errors name `exporter.<field>` and the file). A file and environment that set the exporter alone,
    as a sidecar's do, are read without pydantic-settings and the other sections' models
    (`light_exporter_settings`, same result); anything else goes through the loader every command uses."""
    given = {k: v for k, v in flags.items() if v is not None}
    light = light_exporter_settings(app.config_path, app.environ, given)
    return light if light is not None else app.config_with({"exporter": given}).exporter


@click.group(name="exporter")
def exporter() -> None:
    """Run the GPU + vLLM exporter (sidecar or DaemonSet)."""


@exporter.command(name="run")
@click.option("--mode", type=click.Choice(["sidecar", "daemonset"]), help="Sidecar in a vLLM pod, or per node.")
@click.option("--gpu-backend", type=click.Choice(["nvml", "simulated"]), help="`simulated` for demo/CI only.")
@click.option("--vllm-url", help="vLLM /metrics URL to scrape and re-expose.")
@click.option("--host", "listen_host", help="Address to listen on.")
@click.option("--port", type=int, help="Port of /metrics, /healthz, /readyz.")
@click.option("--simulated-gpus", type=int, help="How many GPUs the simulated backend fakes.")
@click.option("--pod-resources-socket", help="Kubelet pod-resources socket (daemonset mode).")
@click.option("--otlp-endpoint", help="OTLP/HTTP metrics URL to push to (off when unset).")
@click.option(
    "--gpu-uuid",
    "gpu_uuids",
    multiple=True,
    help="Sidecar: a GPU of this pod (repeatable); default: every GPU NVML shows the container.",
)
@click.option(
    "--web.config.file",
    "web_config_file",
    help="exporter-toolkit web configuration (TLS, client certificates, basic_auth_users); re-read on change.",
)
@click.option("--log-format", type=click.Choice(["logfmt", "json"]), default="logfmt", show_default=True)
@pass_app
def run(app: AppContext, /, log_format: str, **flags: Any) -> None:
    """Serve /metrics from background samplers until SIGTERM; flags override the `exporter:` section."""
    configure_logging(log_format)
    flags["gpu_uuids"] = list(flags["gpu_uuids"]) or None
    settings = effective_settings(app, flags)
    check_start(settings)
    web = web_setup(settings)
    log.info("exporter starting mode=%s gpu_backend=%s vllm_url=%s listen=%s:%d scheme=%s",
             settings.mode, settings.gpu_backend, settings.vllm_url, settings.listen_host, settings.port,
             "https" if web is not None and web.tls is not None else "http")  # fmt: skip
    app_ = build_app(settings, web=web)
    serve(app_, host=settings.listen_host, port=settings.port, ssl_context=web.ssl_context if web else None)
    log.info("exporter stopped")
