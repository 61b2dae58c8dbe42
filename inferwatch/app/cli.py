"""The `inferwatch` command line: one entry point, subcommands grouped by area.

The root group builds the AppContext every command receives (inferwatch.app.context) and names
its subcommands in a lazy table: each command's module is imported only when it is asked for, so
`inferwatch exporter run` never loads the SLO, cost and rule code. The table's strings are the
only names of modules by string in the application (the demo's command among them: the one
reference from the application up to the demo).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from inferwatch import __version__
from inferwatch.app.context import AppContext, InferwatchGroup

DEFAULT_CONFIG_FILE = Path("inferwatch.yaml")

# Subcommand name -> the `module:attribute` of its click command.
COMMANDS = {
    "build": "inferwatch.app.commands.build:build_command",
    "config": "inferwatch.app.commands.config:config_group",
    "slo": "inferwatch.app.commands.slo:slo",
    "rules": "inferwatch.app.commands.rules:rules",
    "exporter": "inferwatch.app.commands.exporter:exporter",
    "cost": "inferwatch.app.commands.cost:cost",
    "dashboards": "inferwatch.app.commands.dashboards:dashboards",
    "controller": "inferwatch.app.commands.controller:controller",
    "demo": "inferwatch.demo.cli:demo",
}


def _resolve_config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


@click.group(cls=InferwatchGroup, context_settings={"help_option_names": ["-h", "--help"]}, lazy=COMMANDS)
@click.version_option(__version__, "--version", "-V", prog_name="inferwatch")
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="INFERWATCH_CONFIG",
    default=None,
    help="inferwatch.yaml to load (default: ./inferwatch.yaml if present, else built-in defaults). "
    "INFERWATCH_<SECTION>__<KEY> variables override single values.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    envvar="INFERWATCH_LOG_LEVEL",
    help="Log verbosity.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """inferwatch: observability, SLOs and cost for self-hosted vLLM on Kubernetes."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = AppContext(config_path=_resolve_config_path(config_path), environ=dict(os.environ))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="inferwatch")
