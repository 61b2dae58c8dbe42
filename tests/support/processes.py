"""Start real Prometheus, Alertmanager and llm-d-inference-sim processes on free loopback ports.

Every start returns a handle whose ``stop()`` kills the process; the pytest fixtures in
tests/conftest.py call it in a finalizer so a failing test never leaves a process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from inferwatch.tools import Toolbox


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20, interval: float = 0.1) -> None:
    """Poll ``predicate`` until it holds; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now (SO_REUSEADDR, as the servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_range(span: int) -> int:
    """The first port of ``span`` consecutive free ports, below the ephemeral range (32768+), so that
    client sockets and other suites' `free_port()` listeners do not land in it."""
    for base in range(24000, 32768 - span, 97):
        if all(port_free(p) for p in range(base, base + span)):
            return base
    raise AssertionError(f"no {span} consecutive free loopback ports below 32768")


@dataclass
class RunningProcess:
    """A started process, its base URL and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path
    workdir: Path
    extra: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        """The process's combined output so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Terminate the process (its whole process group), escalating to SIGKILL."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _spawn(name: str, argv: Sequence[str], workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    log.close()
    return proc, log_path


def wait_http_ok(rp: RunningProcess, path: str, timeout: float = 30.0) -> None:
    """Poll ``rp.url + path`` until it answers 200; raise with the process log if it never does."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if rp.proc.poll() is not None:
            raise RuntimeError(f"{rp.name} exited with {rp.proc.returncode}:\n{rp.log()[-4000:]}")
        try:
            r = httpx.get(rp.url + path, timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as err:
            last = repr(err)
        time.sleep(0.1)
    rp.stop()
    raise RuntimeError(f"{rp.name} not ready at {rp.url}{path} after {timeout}s ({last}):\n{rp.log()[-4000:]}")


def start_prometheus(
    tools: Toolbox,
    config_file: Path,
    workdir: Path,
    *,
    storage: Path | None = None,
    extra_args: Sequence[str] = (),
    retention: str = "400d",
) -> RunningProcess:
    """Prometheus 3 (from .tools/bin) with ``config_file``, on a free port, ready when returned."""
    port = free_port()
    argv = [
        str(tools.path("prometheus")),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={storage or workdir / 'data'}",
        f"--storage.tsdb.retention.time={retention}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        *extra_args,
    ]
    proc, log = _spawn("prometheus", argv, workdir)
    rp = RunningProcess("prometheus", proc, f"http://127.0.0.1:{port}", log, workdir)
    wait_http_ok(rp, "/-/ready", timeout=60)
    return rp


def start_alertmanager(tools: Toolbox, config_file: Path, workdir: Path) -> RunningProcess:
    """Alertmanager with ``config_file`` on a free port (clustering off), ready when returned."""
    port = free_port()
    argv = [
        str(tools.path("alertmanager")),
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    proc, log = _spawn("alertmanager", argv, workdir)
    rp = RunningProcess("alertmanager", proc, f"http://127.0.0.1:{port}", log, workdir)
    wait_http_ok(rp, "/-/ready", timeout=30)
    return rp


def start_inference_sim(
    tools: Toolbox,
    workdir: Path,
    *,
    model: str = "Qwen/Qwen2.5-1.5B-Instruct",
    extra_args: Sequence[str] = (),
) -> RunningProcess:
    """llm-d-inference-sim (OpenAI API + vllm:* metrics) on a free port, ready when returned."""
    port = free_port()
    argv = [
        str(tools.path("llm-d-inference-sim")),
        "--port",
        str(port),
        "--model",
        model,
        *extra_args,
    ]
    proc, log = _spawn("llm-d-inference-sim", argv, workdir)
    rp = RunningProcess("llm-d-inference-sim", proc, f"http://127.0.0.1:{port}", log, workdir, {"model": model})
    wait_http_ok(rp, "/metrics", timeout=30)
    return rp
