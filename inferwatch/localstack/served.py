"""What the local stack's stand-in metrics servers (SGLang, the llm-d router, vLLM's engine families) share:
a registry served without `_created` samples, and stopping a background HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from socketserver import BaseServer

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


class WithoutCreated(Collector):
    """A registry's families without `_created` samples: the Go and multiprocess registries of the
    servers stood in for (SGLang's, the router's) serve none."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def stop_serving(server: BaseServer | None, thread: threading.Thread | None) -> None:
    """Shut ``server`` down, close its socket and wait for its thread (either may be None: not started)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=10)
