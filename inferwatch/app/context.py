"""What every `inferwatch` command shares: the AppContext it receives, and the group class that turns
InferwatchError into a message on stderr and its exit status (here, and nowhere else).

The configuration is loaded lazily, so `--help` never needs a valid file.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from inferwatch.errors import InferwatchError
from inferwatch.extras import ExtraMissingError, extra_error

if TYPE_CHECKING:
    # Loaded on first use: `inferwatch exporter run` reads its section alone, without pydantic-settings.
    from inferwatch.config import InferwatchConfig

# A subcommand whose module imports an extra's library at import: without the extra it is listed
# and answers every call with one line naming the extra (exit 2), instead of an ImportError.
COMMAND_EXTRAS = {"cost": "report", "demo": "report"}


@dataclass
class AppContext:
    """What every subcommand receives: the config file's path, the environment, the loaded config."""

    config_path: Path | None
    environ: Mapping[str, str]
    _config: InferwatchConfig | None = field(default=None, repr=False)

    @property
    def config(self) -> InferwatchConfig:
        """The validated configuration, loaded on first use (raises ConfigError when malformed)."""
        if self._config is None:
            from inferwatch.config import load_config

            self._config = load_config(self.config_path, self.environ)
        return self._config

    def config_with(self, overrides: Mapping[str, Any]) -> InferwatchConfig:
        """The configuration with a command's flags applied over file and environment (nested
        mapping, e.g. ``{"exporter": {"port": 9500}}``); validated like the file, errors name the field."""
        from inferwatch.config import load_config

        return load_config(self.config_path, self.environ, overrides)


pass_app = click.make_pass_decorator(AppContext)


class InferwatchGroup(click.Group):
    """A click group that turns InferwatchError into a clear message and its exit status.

    `lazy` maps a subcommand's name to the `module:attribute` that defines it; the module is
    imported only when that subcommand (or the list of all of them, for --help) is asked for, so
    `inferwatch exporter run` never loads the SLO, cost and rule code (or their libraries) into a
    long-running sidecar.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        extra = COMMAND_EXTRAS.get(cmd_name)
        missing = extra_error(extra, f"`inferwatch {cmd_name}`") if extra is not None else None
        if missing is not None:
            return _needs_extra(cmd_name, extra or "", missing)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InferwatchError as err:
            # Imported here: a sidecar's `exporter run` keeps rich (and its Pygments) out of its memory.
            from rich.console import Console
            from rich.markup import escape

            # Escaped: a message quoting user input ("[bold]", a PromQL range) is not markup, and
            # control characters (an ANSI escape in a config key) are shown, not sent to the terminal.
            message = escape(printable(str(err)))
            stderr = Console(stderr=True)
            stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(int(err.exit_code))


def _needs_extra(name: str, extra: str, error: ExtraMissingError) -> click.Command:
    """A stand-in for a subcommand whose extra is missing: any call, `--help` included, raises ``error``."""

    def fail() -> None:
        raise error

    return click.Command(
        name,
        callback=fail,
        help=f"(needs inferwatch[{extra}]: not installed here)",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with every control character but newline spelled as an escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
