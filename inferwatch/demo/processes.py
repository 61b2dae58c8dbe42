"""Child processes of the demo: started in their own process group, logged to a file, always stopped.

Every process the demo starts is a `ManagedProcess` registered in a `ProcessGroup`; stopping the
group (at the end, on Ctrl-C, or when start-up fails half-way) sends SIGTERM to each process
group in reverse start order and SIGKILL to whatever did not exit, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from inferwatch.errors import InferwatchError

log = logging.getLogger(__name__)


class DemoError(InferwatchError):
    """The demo could not start or run; the message says which part and why."""

    exit_code = 1


class PortInUseError(DemoError):
    """A port the demo needs is taken by another process."""

    exit_code = 7


class OutputNotWritableError(DemoError):
    """The output folder cannot be created or written."""

    exit_code = 8


class ComponentFailedError(DemoError):
    """A component of the stack exited or never became ready."""

    exit_code = 9


def check_port_free(port: int, what: str) -> None:
    """Raise PortInUseError naming ``what`` when 127.0.0.1:``port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as err:
            raise PortInUseError(
                f"port {port} ({what}) is already in use ({err.strerror}); stop what listens there "
                "or pick other ports with --base-port"
            ) from None


@dataclass
class ManagedProcess:
    """A started child process, where it answers and where it logs."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the process's log (for error messages)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def terminate(self) -> None:
        """Send SIGTERM to the process's group."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        """Wait ``timeout`` seconds for the exit, then SIGKILL the group."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver them to the handlers they had.

    Starting a child and registering it must not be cut in two: a Ctrl-C inside `Popen` (after the
    fork) would leave a child in its own session that nothing stops. Off the main thread, where
    handlers cannot be set, the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        held.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, left as it is now
                signal.signal(sig, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


@dataclass
class ProcessGroup:
    """The processes the demo started, stopped together in reverse order."""

    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def spawn(
        self, name: str, argv: Sequence[str], url: str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> ManagedProcess:
        """Start ``argv`` in a new session with output to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with signals_deferred(), log_path.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd or self.log_dir,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
            mp = ManagedProcess(name, proc, url, log_path)
            self.processes.append(mp)
        log.info("started %s (pid %d) at %s", name, proc.pid, url)
        return mp

    def stop(self, name: str) -> None:
        """Stop one process by name (and forget it)."""
        for mp in list(self.processes):
            if mp.name == name:
                mp.terminate()
                mp.wait_or_kill(15)
                self.processes.remove(mp)

    def stop_all(self) -> None:
        """SIGTERM every process (newest first), then SIGKILL those still alive after a grace period."""
        for mp in reversed(self.processes):
            mp.terminate()
        deadline = time.monotonic() + 15
        for mp in reversed(self.processes):
            mp.wait_or_kill(max(0.1, deadline - time.monotonic()))
        self.processes.clear()

    def pids(self) -> list[int]:
        """Process ids of the running children."""
        return [mp.proc.pid for mp in self.processes if mp.running()]

    def exited(self) -> list[ManagedProcess]:
        """Children that exited although nobody stopped them."""
        return [mp for mp in self.processes if not mp.running()]


def wait_until(
    mp: ManagedProcess, ready: Callable[[], bool], what: str, timeout: float = 60.0, interval: float = 0.2
) -> None:
    """Poll ``ready`` until it holds; ComponentFailedError (with the log tail) when the process dies or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        if not mp.running():
            raise ComponentFailedError(
                f"{mp.name} exited with status {mp.proc.returncode} while starting; its log ({mp.log_path}) ends:\n"
                f"{mp.log_tail()}"
            )
        with contextlib.suppress(httpx.HTTPError, OSError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise ComponentFailedError(
                f"{mp.name} did not become ready ({what}) within {timeout:.0f}s; its log ({mp.log_path}) ends:\n"
                f"{mp.log_tail()}"
            )
        time.sleep(interval)


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers 200."""
    return lambda: httpx.get(url, timeout=2.0).status_code == 200
