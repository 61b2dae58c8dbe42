"""The optional extras of the distribution, and the one-line error of a command whose extra is missing.

The exporter image installs inferwatch without extras, so a sidecar in every vLLM pod carries no
plotting or Kubernetes client libraries (issue 23). `report` brings matplotlib (the cost report's
charts, `inferwatch dashboards preview`, the demo's previews); `controller` brings lightkube (`inferwatch
controller run`). The fuller image (deploy/build-image.sh build-full) and `pip install
'inferwatch[report,controller]'` have both. The names here match pyproject.toml's optional-dependencies.
"""

from __future__ import annotations

import importlib.util

from inferwatch.errors import ExitCode, InferwatchError

# extra -> the top-level modules it installs that inferwatch imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("matplotlib",),
    "controller": ("lightkube",),
}


class ExtraMissingError(InferwatchError):
    """A command needs a library of an extra that is not installed (exit 2: install the extra)."""

    exit_code = ExitCode.USAGE


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (found without importing them)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def extra_error(extra: str, what: str) -> ExtraMissingError | None:
    """The error for ``what`` (a command) when ``extra`` is not installed, else None."""
    missing = missing_modules(extra)
    if not missing:
        return None
    return ExtraMissingError(
        f"{what} needs {', '.join(missing)}, which is not installed here: install inferwatch[{extra}] "
        f"(pip install 'inferwatch[{extra}]'); the exporter image leaves it out, the -full image has it"
    )


def require(extra: str, what: str) -> None:
    """Raise ExtraMissingError (exit 2) naming ``extra`` when its libraries are not installed."""
    error = extra_error(extra, what)
    if error is not None:
        raise error
