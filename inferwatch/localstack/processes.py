"""The one process supervisor of the local stack: children in their own session, logged, always stopped.

Every process the demo, the tests and the benchmarks start runs through a `ProcessGroup`: started
in a new session (so a signal to its process group reaches the whole tree it forks), its output
in a log file, registered before a signal can cut in. Stopping the group (at the end, on Ctrl-C,
or when start-up fails half-way) sends SIGTERM to each process group in reverse start order and
SIGKILL to whatever did not exit within the grace period, so nothing is left behind.
`wait_for` is the one readiness poll: a predicate, what it waits for, the processes it watches.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from inferwatch.errors import ExitCode, InferwatchError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_GRACE_S = 15.0


class LocalStackError(InferwatchError):
    """A process or server of the local stack could not start or run; the message says which and why."""

    exit_code = ExitCode.FAILURE


class ComponentFailedError(LocalStackError):
    """A component of the stack exited or never became ready."""

    exit_code = ExitCode.COMPONENT_FAILED


class WaitTimeoutError(LocalStackError):
    """Something waited for did not happen in time."""


@dataclass
class ManagedProcess:
    """A started child process, where it answers and where it logs (None: output inherited)."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path | None

    def log(self) -> str:
        """Everything the process logged so far (for assertion and error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the process's log (for error messages)."""
        return self.log()[-chars:]

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

    def stop(self, grace_s: float = DEFAULT_GRACE_S) -> None:
        """SIGTERM, then SIGKILL after ``grace_s`` seconds; closes its stdin pipe first if it has one."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.terminate()
        self.wait_or_kill(grace_s)


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
    """Started processes, stopped together in reverse order (also as a context manager's exit)."""

    log_dir: Path
    grace_s: float = DEFAULT_GRACE_S
    processes: list[ManagedProcess] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        url: str = "",
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
        stdin_pipe: bool = False,
    ) -> ManagedProcess:
        """Start ``argv`` in a new session with output to ``log_path`` (default ``<log_dir>/<name>.log``).

        ``inherit_output`` leaves stdout and stderr to the caller's; ``stdin_pipe`` gives the child
        a stdin pipe that `stop` closes first (a child may end when it closes).
        """
        path = None if inherit_output else (log_path or self.log_dir / f"{name}.log")
        (path.parent if path else self.log_dir).mkdir(parents=True, exist_ok=True)
        with signals_deferred(), contextlib.ExitStack() as files:
            out = files.enter_context(path.open("wb")) if path else None
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                cwd=cwd or self.log_dir,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
            mp = ManagedProcess(name, proc, url, path)
            self.processes.append(mp)
        log.info("started %s (pid %d) at %s", name, proc.pid, url)
        return mp

    def stop(self, name: str) -> None:
        """Stop one process by name (and forget it)."""
        for mp in list(self.processes):
            if mp.name == name:
                mp.stop(self.grace_s)
                self.processes.remove(mp)

    def stop_all(self) -> None:
        """SIGTERM every process (newest first), then SIGKILL those still alive after the grace period."""
        for mp in reversed(self.processes):
            if mp.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    mp.proc.stdin.close()
            mp.terminate()
        deadline = time.monotonic() + self.grace_s
        for mp in reversed(self.processes):
            mp.wait_or_kill(max(0.1, deadline - time.monotonic()))
        self.processes.clear()

    def pids(self) -> list[int]:
        """Process ids of the running children."""
        return [mp.proc.pid for mp in self.processes if mp.running()]

    def exited(self) -> list[ManagedProcess]:
        """Children that exited although nobody stopped them."""
        return [mp for mp in self.processes if not mp.running()]

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop_all()


def _log_end(mp: ManagedProcess) -> str:
    if mp.log_path is None:
        return "its output went to the terminal"
    return f"its log ({mp.log_path}) ends:\n{mp.log_tail()}"


def exited_error(mp: ManagedProcess, when: str = "") -> ComponentFailedError:
    """The error for a process that exited on its own, with the end of its log."""
    return ComponentFailedError(f"{mp.name} exited with status {mp.proc.returncode}{when}; {_log_end(mp)}")


def wait_for(
    ready: Callable[[], T | None],
    what: str,
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    watch: Sequence[ManagedProcess] = (),
) -> T:
    """Poll ``ready`` until it returns something true, and return that.

    An HTTP or socket error inside ``ready`` counts as not ready yet. With processes to ``watch``,
    ComponentFailedError (with the log's end) as soon as one exits, or when time is up; without,
    WaitTimeoutError naming ``what``.
    """
    deadline = time.monotonic() + timeout
    while True:
        for mp in watch:
            if not mp.running():
                raise exited_error(mp, " while starting")
        with contextlib.suppress(httpx.HTTPError, OSError):
            result = ready()
            if result:
                return result
        if time.monotonic() > deadline:
            if not watch:
                raise WaitTimeoutError(f"timed out waiting for {what}")
            mp = watch[0]
            raise ComponentFailedError(f"{mp.name} did not become ready ({what}) within {timeout:.0f}s; {_log_end(mp)}")
        time.sleep(interval)


def http_ok(
    url: str, *, verify: ssl.SSLContext | bool = True, auth: tuple[str, str] | None = None
) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers 200 (over TLS verified with ``verify``, with basic ``auth``)."""
    return lambda: httpx.get(url, timeout=2.0, verify=verify, auth=auth).status_code == 200
