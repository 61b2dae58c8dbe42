"""`inferwatch demo up` refuses to start with one clear line and a distinct exit status, starting nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.demo.config import DemoSettings, demo_config
from inferwatch.demo.scenario import DEFAULT_SCENARIO
from inferwatch.demo.stack import Stack
from inferwatch.errors import ToolMissingError
from inferwatch.localstack.ports import free_port_range
from inferwatch.tools import Toolbox


def _up(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferwatch", "demo", "up", "--no-live", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_port_in_use_is_named_and_exits_7(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        base = taken.getsockname()[1]
        result = _up("--base-port", str(base), "--out", str(tmp_path / "out"))
    assert result.returncode == 7, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: port {base} (Prometheus) is already in use (Address already in use); stop what listens there "
        "or pick other ports with --base-port"
    ]
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_exits_8(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _up("--base-port", str(free_port_range(45)), "--out", str(blocker / "out"))
    assert result.returncode == 8, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: output folder {blocker / 'out'} is not writable"), lines


def test_a_missing_tool_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = DemoSettings(out_dir=tmp_path / "out")
    stack = Stack(settings, demo_config(settings), DEFAULT_SCENARIO, Toolbox((tmp_path,)), tmp_path / "out")
    with pytest.raises(ToolMissingError, match=r"prometheus is not installed: run scripts/install-tools\.sh") as err:
        stack.preflight()
    assert err.value.exit_code == 5


def test_a_too_short_incident_is_refused() -> None:
    result = _up("--duration", "120", "--incident-start", "100", "--incident-end", "90")
    assert result.returncode == 2
    assert "--incident-start 100s / --incident-end 90s" in result.stderr


def test_a_ctrl_c_outside_the_running_stack_still_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before the stack's try block (settings, preflight) or during the clean-up's last words.
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("inferwatch.demo.cli.run_demo", interrupted)
    result = CliRunner().invoke(cli, ["demo", "up", "--no-live", "--out", str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
