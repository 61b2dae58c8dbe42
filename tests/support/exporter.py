"""`inferwatch exporter run` as a real process on a free loopback port, and its /metrics parsed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from tests.support.processes import free_port

INFERWATCH = [sys.executable, "-m", "inferwatch"]


@dataclass
class ExporterProcess:
    """A running `inferwatch exporter run` and where it answers."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the exporter logged so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def exporter_process(
    workdir: Path, args: Sequence[str], env: dict[str, str] | None = None
) -> Iterator[ExporterProcess]:
    """Start the exporter on a free port, wait for /readyz, and always stop it (SIGTERM, then SIGKILL)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "exporter.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*INFERWATCH, "exporter", "run", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    running = ExporterProcess(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(running)
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_ready(exp: ExporterProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if exp.proc.poll() is not None:
            raise AssertionError(f"exporter exited with {exp.proc.returncode}:\n{exp.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(exp.url + "/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"exporter never ready:\n{exp.log()}")


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
