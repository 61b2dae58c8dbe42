"""`inferwatch rules`: build the rules area's files (through `inferwatch build`'s pipeline); list alerts."""

from __future__ import annotations

from pathlib import Path

import click

from inferwatch.alerts.catalog import alert_definitions
from inferwatch.alerts.vllm_families import normalized_families, unknown_families, vllm_source_dir
from inferwatch.app.context import AppContext, pass_app
from inferwatch.app.pipeline import build

AREA = "alerts"


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
@click.option("--no-validate", is_flag=True, help="Skip promtool (3 and 2), amtool, kubeconform and link checks.")
@pass_app
def rules_build(app: AppContext, out: Path, no_validate: bool) -> None:
    """Generate, validate and write the rules area's files: `inferwatch build --only alerts`."""
    files = build(app.config, out, only=(AREA,), validate=not no_validate)
    click.echo(f"wrote {len(files)} file(s) under {out}")


@rules.command(name="list")
@pass_app
def rules_list(app: AppContext) -> None:
    """Every alert with its severity and configured threshold."""
    defs = alert_definitions(app.config.thresholds)
    width = max(len(d.name) for d in defs)
    for d in defs:
        click.echo(f"{d.name:<{width}}  {d.severity:<6}  {d.threshold}")


@rules.command(name="vllm-coverage")
@click.option(
    "--vllm-source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="vLLM package folder to read (default: the vLLM installed with the `vllm` extra).",
)
def rules_vllm_coverage(vllm_source: Path | None) -> None:
    """List the metric families the installed vLLM declares that the normalization rules do not read."""
    source = vllm_source or vllm_source_dir()
    unknown = unknown_families(source)
    click.echo(f"{source}: {len(unknown)} vLLM metric famil{'y' if len(unknown) == 1 else 'ies'} not normalized")
    for name in unknown:
        click.echo(f"  {name}")
    click.echo(f"(normalization reads {len(normalized_families())} vLLM families; the others pass through untouched)")
