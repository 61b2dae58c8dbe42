"""Exception types shared by every area, and the exit status each maps to at the CLI boundary.

Every exit status of the `inferwatch` command is named in `ExitCode`; an error class elsewhere
(the exporter's, the demo's) carries one of these, never a number of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit statuses of `inferwatch`, documented in the commands' help and in docs/."""

    OK = 0
    # An error without a more specific status (a webhook that refused, a rejected query, a demo failure).
    FAILURE = 1
    # Bad arguments, a malformed input file or a setting that cannot work on this machine.
    USAGE = 2
    PROMETHEUS_UNAVAILABLE = 3
    NO_DATA = 4
    TOOL_MISSING = 5
    VALIDATION_FAILED = 6
    # The demo: a port it needs is taken, its output folder cannot be written, a component failed.
    PORT_IN_USE = 7
    OUTPUT_NOT_WRITABLE = 8
    COMPONENT_FAILED = 9
    # Stopped by Ctrl-C (128 + SIGINT), as shells report it.
    INTERRUPTED = 130


class InferwatchError(Exception):
    """Base class of every error inferwatch raises on purpose; carries its CLI exit status."""

    exit_code: int = ExitCode.FAILURE


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of an input file: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(InferwatchError):
    """An input file (inferwatch.yaml, an SLO file, …) is missing or malformed."""

    exit_code = ExitCode.USAGE

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


class UsageError(InferwatchError):
    """A command was called with arguments that cannot work together."""

    exit_code = ExitCode.USAGE


class PrometheusUnavailableError(InferwatchError):
    """Prometheus did not answer (after bounded retries)."""

    exit_code = ExitCode.PROMETHEUS_UNAVAILABLE


class NoDataError(InferwatchError):
    """Prometheus answered, but holds no data for what was asked."""

    exit_code = ExitCode.NO_DATA


class ToolMissingError(InferwatchError):
    """An external tool (promtool, helm, …) is not installed where inferwatch looks for it."""

    exit_code = ExitCode.TOOL_MISSING


class ValidationFailedError(InferwatchError):
    """A generated artifact failed validation, or differs from the committed copy."""

    exit_code = ExitCode.VALIDATION_FAILED
