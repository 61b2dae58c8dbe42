"""Errors the exporter raises on purpose at start-up (turned into a message and exit status by the CLI)."""

from __future__ import annotations

from inferwatch.errors import ExitCode, InferwatchError


class ExporterStartError(InferwatchError):
    """A setting cannot work on this machine (a missing CA file, a busy port); the message names it."""

    exit_code = ExitCode.USAGE
