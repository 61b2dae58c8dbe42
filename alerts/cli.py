"""`inferwatch rules`: build the rule files, PrometheusRule objects, Alertmanager example and runbooks; list alerts."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from inferwatch.alerts.catalog import alert_definitions
from inferwatch.alerts.generate import artifacts

from inferwatch.build import raise_on_failures, validate_all
from inferwatch.cli import AppContext, pass_app
from inferwatch.fileio import write_all_atomic
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)


@click.group(name="rules")
def rules() -> None:
    """Recording rules (normalization), alerts, runbooks and the Alertmanager example."""


@rules.command(name="build")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Root folder the files are written under (alerts/generated, deploy/…, docs/runbooks).",
)
@click.option("--no-validate", is_flag=True, help="Skip promtool (3 and 2) and amtool checks.")
@pass_app
def rules_build(app: AppContext, out: Path, no_validate: bool) -> None:
    """Generate, validate (promtool 3 and 2, amtool) and write the rules area's files."""
    files = artifacts(app.config)
    if not no_validate:
        raise_on_failures(validate_all(files, Toolbox.default()))
    write_all_atomic({out / a.path: a.content for a in files})
    log.info("wrote %d rules artifact(s) under %s", len(files), out)
    click.echo(f"wrote {len(files)} file(s) under {out}")


@rules.command(name="list")
@pass_app
def rules_list(app: AppContext) -> None:
    """Every alert with its severity and configured threshold."""
    defs = alert_definitions(app.config.thresholds)
    width = max(len(d.name) for d in defs)
    for d in defs:
        click.echo(f"{d.name:<{width}}  {d.severity:<6}  {d.threshold}")
