"""The demo's process group: a Ctrl-C while a child starts never leaves that child unregistered."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferwatch.demo.processes import ProcessGroup


def test_a_ctrl_c_inside_popen_is_held_until_the_child_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # the child runs, Popen has not returned yet
        return proc

    group = ProcessGroup(tmp_path / "logs")
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
