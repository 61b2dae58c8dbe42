"""The CLI surface: --help on every level, --version, and no placeholder commands."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from inferwatch import __version__
from inferwatch.cli import cli

PLACEHOLDER_WORDS = ("not implemented", "todo", "coming soon")


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found += _all_commands(cmd, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_on_every_level_and_no_placeholders() -> None:
    runner = CliRunner()
    commands = _all_commands(cli)
    assert ("build",) in commands
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        lowered = result.output.lower()
        assert not any(w in lowered for w in PLACEHOLDER_WORDS), path


def test_every_group_has_commands() -> None:
    for path in _all_commands(cli):
        cmd = cli
        for part in path:
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        if isinstance(cmd, click.Group):
            assert cmd.commands, f"group {' '.join(path) or 'inferwatch'} has no commands"


def test_console_script_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inferwatch", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out
