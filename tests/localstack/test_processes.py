"""The local stack's process group: a Ctrl-C while a child starts leaves no child unregistered; stops always stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferwatch.localstack.processes import ComponentFailedError, ProcessGroup, WaitTimeoutError, wait_for


def test_a_ctrl_c_inside_popen_is_held_until_the_child_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # the child runs, Popen has not returned yet
        return proc

    group = ProcessGroup(tmp_path / "logs")
    # Python's own Ctrl-C handler, also when this run inherited SIGINT ignored (a background job does).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(subprocess, "Popen", popen_then_ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            group.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], "http://127.0.0.1:1")
        # The interrupt still arrives, but only once the child is in the group that stops it.
        assert [p.name for p in group.processes] == ["sleeper"]
        assert group.processes[0].proc.poll() is None
    finally:
        monkeypatch.undo()
        procs = [p.proc for p in group.processes]
        group.stop_all()
    assert all(p.poll() is not None for p in procs)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, inherited)


def test_stop_all_escalates_to_sigkill_and_wait_for_names_the_dead(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    )
    with ProcessGroup(tmp_path, grace_s=0.5) as group:
        mp = group.spawn("stubborn", [sys.executable, "-c", stubborn])
        assert wait_for(lambda: "up" in mp.log(), "the child to start", timeout=20) is True
        quitter = group.spawn("quitter", [sys.executable, "-c", "print('bye'); raise SystemExit(3)"])
        with pytest.raises(
            ComponentFailedError, match=r"quitter exited with status 3 while starting; its log .* ends:\nbye"
        ):
            wait_for(lambda: False, "never", timeout=20, watch=[quitter])
    assert mp.proc.returncode == -signal.SIGKILL and group.processes == []
    with pytest.raises(WaitTimeoutError, match="timed out waiting for nothing"):
        wait_for(lambda: None, "nothing", timeout=0.2)


def test_a_stdin_pipe_is_closed_first_and_output_can_stay_with_the_caller(tmp_path: Path) -> None:
    up = tmp_path / "up"
    reader = (
        f"import signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); open({str(up)!r}, 'w'); sys.stdin.read()"
    )
    with ProcessGroup(tmp_path) as group:
        mp = group.spawn("reader", [sys.executable, "-c", reader], inherit_output=True, stdin_pipe=True)
        wait_for(up.exists, "the child to ignore SIGTERM", timeout=20, watch=[mp])
        assert mp.log_path is None and mp.log() == ""
        mp.stop(grace_s=20)
    assert mp.proc.returncode == 0, "the child (deaf to SIGTERM) ended because its stdin was closed"
