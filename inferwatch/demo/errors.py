"""The demo's own errors and their exit statuses: a port taken, an output folder not writable.

A component that exits or never becomes ready is the local stack's ComponentFailedError (exit 9).
"""

from __future__ import annotations

from inferwatch.errors import ExitCode, InferwatchError
from inferwatch.localstack.ports import bind_error


class DemoError(InferwatchError):
    """The demo could not start or run; the message says which part and why."""

    exit_code = ExitCode.FAILURE


class PortInUseError(DemoError):
    """A port the demo needs is taken by another process."""

    exit_code = ExitCode.PORT_IN_USE


class OutputNotWritableError(DemoError):
    """The output folder cannot be created or written."""

    exit_code = ExitCode.OUTPUT_NOT_WRITABLE


def check_port_free(port: int, what: str) -> None:
    """Raise PortInUseError naming ``what`` when 127.0.0.1:``port`` cannot be bound."""
    err = bind_error(port)
    if err is not None:
        raise PortInUseError(
            f"port {port} ({what}) is already in use ({err.strerror}); stop what listens there "
            "or pick other ports with --base-port"
        )
