"""`inferwatch exporter run` as a real process on a free loopback port, and its /metrics parsed."""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.localstack.launchers import loopback
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, http_ok, wait_for

INFERWATCH = [sys.executable, "-m", "inferwatch"]


@contextlib.contextmanager
def exporter_process(
    workdir: Path, args: Sequence[str], env: dict[str, str] | None = None, *, tls: ssl.SSLContext | None = None
) -> Iterator[ManagedProcess]:
    """Start the exporter on a free port, wait for /readyz, and always stop it (SIGTERM, then SIGKILL).

    ``tls``: the exporter serves HTTPS (its args name a web configuration); probe it with this context.
    """
    port = free_port()
    argv = [*INFERWATCH, "exporter", "run", "--host", "127.0.0.1", "--port", str(port), *args]
    url = f"https://127.0.0.1:{port}" if tls is not None else loopback(port)
    with ProcessGroup(workdir) as group:
        exp = group.spawn("exporter", argv, url, env={**os.environ, **(env or {})})
        probe = http_ok(exp.url + "/readyz", verify=tls if tls is not None else True)
        wait_for(probe, "/readyz answers 200", timeout=30, watch=[exp])
        yield exp


def scrape(url: str, accept: str | None = None) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics as {sample name: [(labels, value)]} through prometheus_client's parser."""
    headers = {"Accept": accept} if accept else {}
    r = httpx.get(url + "/metrics", headers=headers, timeout=10)
    r.raise_for_status()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


# The GPU series every GPU answers (Xid, ECC, PCIe and NVML-error series appear with their events).
CONTRACT_GPU_SERIES = [
    s.name
    for s in (
        contract.GPU_INFO,
        contract.GPU_UP,
        contract.GPU_UTILIZATION,
        contract.GPU_BUSY,
        contract.GPU_MEMORY_USED,
        contract.GPU_MEMORY_TOTAL,
        contract.GPU_POWER,
        contract.GPU_POWER_LIMIT,
        contract.GPU_ENERGY,
        contract.GPU_TEMPERATURE,
        contract.GPU_CLOCK,
        contract.GPU_THROTTLE,
        contract.GPU_SAMPLE_AGE,
    )
]
