"""The exporter assembled from its settings: structured logging, start-up checks and the Starlette app.

`inferwatch exporter run` (inferwatch.app.commands.exporter) turns the `exporter:` settings and its
flags into an ExporterSettings and calls `check_start` and `build_app`; the demo serves
`build_app` with simulated GPUs. Nothing here loads the SLO, cost or rule code.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from inferwatch import contract
from inferwatch.config.exporter import ExporterSettings
from inferwatch.exporters.attribution import (
    AttributionCollector,
    KubeletGpuCollector,
    PodIdentity,
    daemonset_source,
    sidecar_source,
)
from inferwatch.exporters.errors import ExporterStartError
from inferwatch.exporters.gpu import GpuCollector, GpuSampleAgeCollector, GpuSampler, open_backend
from inferwatch.exporters.nvml import NvmlApi
from inferwatch.exporters.server import CachedPart, Source, create_app
from inferwatch.exporters.vllm import VllmCollector, VllmScraper, engine_text

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from inferwatch.exporters.web import ReloadingTLS, WebConfigFile

log = logging.getLogger(__name__)


class LogfmtFormatter(logging.Formatter):
    """One line per event: `ts=… level=… logger=… msg="…"` (exceptions folded into the line)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as logfmt."""
        msg = record.getMessage()
        if record.exc_info:
            msg += " " + self.formatException(record.exc_info)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        return f"ts={ts} level={record.levelname.lower()} logger={record.name} msg={json.dumps(msg)}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        doc: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def configure_logging(fmt: str) -> None:
    """Give every root handler the structured formatter `fmt` ("logfmt" or "json")."""
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else LogfmtFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(formatter)
    # urllib3 logs each connection at DEBUG; the vLLM scraper logs what matters (state changes) itself.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def check_start(settings: ExporterSettings) -> None:
    """Fail fast on settings that validate but cannot work on this machine."""
    if settings.vllm_ca_file is not None and not Path(settings.vllm_ca_file).is_file():
        raise ExporterStartError(f"exporter.vllm_ca_file: {settings.vllm_ca_file} is not a readable file")
    with socket.socket(socket.AF_INET6 if ":" in settings.listen_host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((settings.listen_host, settings.port))
        except OSError as err:
            raise ExporterStartError(
                f"exporter.port: cannot listen on {settings.listen_host}:{settings.port} ({err.strerror})"
            ) from err
    if settings.mode == "sidecar" and settings.vllm_url is None:
        log.warning("sidecar mode without exporter.vllm_url: only GPU metrics are served")
    if settings.mode == "daemonset" and not Path(settings.pod_resources_socket).parent.is_dir():
        log.warning("pod-resources directory %s is absent; attribution waits for the kubelet socket",
                    Path(settings.pod_resources_socket).parent)  # fmt: skip


@dataclass(frozen=True)
class WebSetup:
    """The web configuration file in force, and the TLS listener it asks for (None: plain HTTP)."""

    file: WebConfigFile
    tls: ReloadingTLS | None

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The context to listen with, or None for plain HTTP."""
        return self.tls.listening if self.tls is not None else None


def web_setup(settings: ExporterSettings) -> WebSetup | None:
    """The web configuration of ``settings.web_config_file`` (None when unset).

    Raises ConfigError (exit 2) naming the file and field when it is invalid, as exporter-toolkit
    refuses to start.
    """
    if settings.web_config_file is None:
        return None
    # Imported here: bcrypt and the TLS code stay out of an exporter without a web configuration.
    from inferwatch.exporters.web import ReloadingTLS, WebConfigFile

    web = WebConfigFile(Path(settings.web_config_file))
    config = web.current()
    tls = ReloadingTLS(web) if config is not None and config.tls_server_config.enabled else None
    log.info("web config %s tls=%s client_auth=%s basic_auth_users=%d", settings.web_config_file, tls is not None,
             config.tls_server_config.client_auth_type or "NoClientCert" if config else "?",
             len(config.basic_auth_users) if config else 0)  # fmt: skip
    return WebSetup(web, tls)


def _registry_of(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def build_app(settings: ExporterSettings, backend: NvmlApi | None = None, web: WebSetup | None = None) -> Starlette:
    """The exporter app for `settings`: GPU and vLLM parts rendered per snapshot, the rest per scrape.

    `backend` replaces the one `settings.gpu_backend` names (the demo passes simulated GPUs whose
    load follows its traffic; it must be a simulated backend or real NVML all the same). `web`
    (`web_setup`) guards every path but the probes with the web configuration's basic auth.
    """
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    if backend is None:
        backend = open_backend(
            settings.gpu_backend,
            simulated_gpus=settings.simulated_gpus,
            simulated_latencies=settings.simulated_nvml_latencies,
        )
    only = settings.gpu_uuids if settings.mode == "sidecar" else None
    sampler = GpuSampler(
        backend,
        interval_s=settings.sample_interval_s,
        slow_interval_s=settings.slow_sample_interval_s,
        only_uuids=only,
    )
    cached = [CachedPart("gpu", _registry_of(GpuCollector(sampler)), sampler.snapshot)]
    # Rendered at every scrape (not cached): the age must grow while NVML stalls.
    registry.register(GpuSampleAgeCollector(sampler))
    sources = [Source("gpu", sampler, lambda: sampler.snapshot() is not None)]
    scraper: VllmScraper | None = None
    if settings.vllm_url is not None:
        verify: bool | str = settings.vllm_ca_file or settings.vllm_tls_verify
        scraper = VllmScraper(
            settings.vllm_url,
            interval_s=settings.vllm_scrape_interval_s,
            timeout_s=settings.vllm_timeout_s,
            max_body_bytes=settings.vllm_max_body_bytes,
            verify=verify,
        )
        # The engine's families are the snapshot's translated text, joined as they are (no objects).
        contract_only = _registry_of(VllmCollector(scraper, engine_families=False))
        cached.append(CachedPart("vllm", contract_only, scraper.snapshot, passthrough=engine_text))
        sources.append(Source("vllm", scraper, lambda: scraper is not None and scraper.snapshot() is not None))
    if settings.mode == "daemonset":
        # Imported here: gRPC (the kubelet API) and OpenTelemetry cost ~20 MB each and a sidecar
        # without OTLP needs neither.
        from inferwatch.exporters.podresources import PodResourcesClient, PodResourcesCollector, PodResourcesWatcher

        client = PodResourcesClient(Path(settings.pod_resources_socket), timeout_s=settings.pod_resources_timeout_s)
        watcher = PodResourcesWatcher(client, refresh_s=settings.pod_resources_refresh_s)
        registry.register(PodResourcesCollector(watcher))
        registry.register(AttributionCollector(daemonset_source(watcher.snapshot, sampler.snapshot)))
        registry.register(KubeletGpuCollector(watcher.snapshot, sampler.snapshot))
        sources.append(Source("pod-resources", watcher, lambda: watcher.attempted))
    elif settings.pod_name and settings.pod_namespace:
        identity = PodIdentity(settings.pod_namespace, settings.pod_name, settings.container_name)
        registry.register(AttributionCollector(sidecar_source(identity, sampler.snapshot)))
    else:
        log.info("sidecar without exporter.pod_name/pod_namespace: no %s", contract.GPU_ALLOCATION.name)
    if settings.otlp_endpoint is not None:
        from inferwatch.exporters.otlp import OtlpPusher

        pusher = OtlpPusher(
            settings.otlp_endpoint,
            interval_s=settings.otlp_interval_s,
            vllm=scraper.snapshot if scraper is not None else lambda: None,
            gpus=sampler.snapshot,
        )
        sources.append(Source("otlp", pusher, lambda: True))
    app = create_app(registry, sources, cached=cached)
    if web is not None:
        from inferwatch.exporters.web import WebGuard

        app.add_middleware(WebGuard, web=web.file)
    return app
