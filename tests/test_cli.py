"""The CLI surface: --help on every level, --version, and no placeholder commands."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from inferwatch import __version__
from inferwatch.app.cli import cli

PLACEHOLDER_WORDS = ("not implemented", "todo", "coming soon")


def _subcommand(group: click.Group, name: str) -> click.Command:
    cmd = group.get_command(click.Context(group), name)
    assert cmd is not None, f"{name} is listed but cannot be loaded"
    return cmd


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name in group.list_commands(click.Context(group)):
        cmd = _subcommand(group, name)
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
        cmd: click.Command = cli
        for part in path:
            assert isinstance(cmd, click.Group)
            cmd = _subcommand(cmd, part)
        if isinstance(cmd, click.Group):
            assert cmd.list_commands(click.Context(cmd)), f"group {' '.join(path) or 'inferwatch'} has no commands"


def test_console_script_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inferwatch", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out


def test_exporter_command_loads_no_other_area_nor_what_a_sidecar_does_not_use() -> None:
    """A sidecar runs `inferwatch exporter run` for weeks: the SLO, cost and rule code stay out of its
    memory, and so do gRPC (the kubelet API, daemonset mode) and the OpenTelemetry SDK (OTLP push)."""
    code = (
        "import sys; from inferwatch.app.cli import cli; "
        "cli.get_command(None, 'exporter'); "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('inferwatch.slo', 'inferwatch.alerts', "
        "'inferwatch.dashboards', 'inferwatch.workloads', 'inferwatch.app.pipeline', 'inferwatch.app.generators', "
        "'inferwatch.app.validate', 'inferwatch.promhttp', 'bcrypt', 'grafanalib', 'grpc', 'opentelemetry.sdk')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
