"""`inferwatch build`: generate every artifact, validate each by its kind, write or --check them."""

from __future__ import annotations

from pathlib import Path

import click

from inferwatch.app.context import AppContext, pass_app
from inferwatch.app.generators import areas
from inferwatch.app.pipeline import build


@click.command(name="build")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Repository root the artifacts are written under.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="AREA",
    help="Build only this area (repeatable): " + ", ".join(areas()) + ".",
)
@click.option("--check", is_flag=True, help="Write nothing; fail (exit 6) if committed artifacts differ.")
@click.option("--no-validate", is_flag=True, help="Skip the promtool/amtool/kubeconform checks.")
@pass_app
def build_command(app: AppContext, out: Path, only: tuple[str, ...], check: bool, no_validate: bool) -> None:
    """Generate every artifact (rules, configs, runbooks, …), validate each by its kind, write or --check them."""
    artifacts = build(app.config, out, only=only, check=check, validate=not no_validate)
    if check:
        click.echo(f"{len(artifacts)} artifact(s) up to date")
    else:
        click.echo(f"wrote {len(artifacts)} artifact(s) under {out}")
