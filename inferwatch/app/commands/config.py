"""`inferwatch config`: inspect and validate inferwatch.yaml."""

from __future__ import annotations

import click
import yaml

from inferwatch.app.context import AppContext, InferwatchGroup, pass_app, printable


@click.group(name="config", cls=InferwatchGroup)
def config_group() -> None:
    """Inspect and validate inferwatch.yaml."""


@config_group.command(name="check")
@pass_app
def config_check(app: AppContext) -> None:
    """Validate the configuration; exit 2 naming each bad field.

    Checks what `build` checks before writing anything, latency SLO thresholds against the
    histogram buckets included.
    """
    cfg = app.config
    click.echo(f"{printable(cfg.source)}: ok ({len(cfg.slos)} SLO(s))")


@config_group.command(name="show")
@pass_app
def config_show(app: AppContext) -> None:
    """Print the effective configuration (file + environment overrides + defaults) as YAML."""
    click.echo(yaml.safe_dump(app.config.model_dump(mode="json"), sort_keys=False), nl=False)
