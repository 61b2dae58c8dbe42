"""Exception types shared by every area, and the exit status each maps to at the CLI boundary."""

from __future__ import annotations

from dataclasses import dataclass


class InferwatchError(Exception):
    """Base class of every error inferwatch raises on purpose; carries its CLI exit status."""

    exit_code = 1


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of an input file: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(InferwatchError):
    """An input file (inferwatch.yaml, an SLO file, …) is missing or malformed."""

    exit_code = 2

    def __init__(self, source: str, problems: list[FieldProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


class UsageError(InferwatchError):
    """A command was called with arguments that cannot work together."""

    exit_code = 2


class PrometheusUnavailableError(InferwatchError):
    """Prometheus did not answer (after bounded retries)."""

    exit_code = 3


class NoDataError(InferwatchError):
    """Prometheus answered, but holds no data for what was asked."""

    exit_code = 4


class ToolMissingError(InferwatchError):
    """An external tool (promtool, helm, …) is not installed where inferwatch looks for it."""

    exit_code = 5


class ValidationFailedError(InferwatchError):
    """A generated artifact failed validation, or differs from the committed copy."""

    exit_code = 6
