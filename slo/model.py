"""The internal SLO model the rule generator reads, built once from validated specs.

`compile_slo` is the one place a user-facing spec (inferwatch.yaml's `slos:` or an OpenSLO
document) becomes an `SLO`; it returns warnings (valid but suspicious values) apart from the
errors that validation already raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from inferwatch.config.slo import LATENCY_KINDS, SLOSpec
from inferwatch.slo.windows import format_duration, parse_duration


@dataclass(frozen=True)
class LatencySLI:
    """Good = requests whose ``kind`` latency is <= ``threshold`` seconds (a histogram bucket boundary)."""

    kind: str
    threshold: float


@dataclass(frozen=True)
class AvailabilitySLI:
    """Good = finished requests whose finished_reason is not an error; HTTP 5xx optionally bad too."""

    error_reasons: tuple[str, ...]
    count_http_5xx: bool


SLI = LatencySLI | AvailabilitySLI


@dataclass(frozen=True)
class SLO:
    """One SLO ready for rule generation: objective as a ratio, window as a duration."""

    name: str
    objective: float
    period: timedelta
    sli: SLI
    group_by: tuple[str, ...] = ()
    matchers: tuple[tuple[str, str], ...] = ()
    description: str = ""
    source: str = ""

    @property
    def error_budget(self) -> float:
        """The allowed share of bad events, 1 - objective (rounded so 99.9 gives exactly 0.001)."""
        return round(1.0 - self.objective, 12)

    @property
    def window(self) -> str:
        """The SLO window as a Prometheus duration (30d, 28d, 7d)."""
        return format_duration(self.period)

    @property
    def objective_percent(self) -> float:
        """The objective in percent, as written in the spec."""
        return round(self.objective * 100, 10)


@dataclass(frozen=True)
class SpecWarning:
    """A valid but suspicious value: where it is and why it looks wrong."""

    source: str
    slo: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: SLO {self.slo!r}: {self.field}: {self.message}"


def compile_slo(spec: SLOSpec, source: str) -> tuple[SLO, list[SpecWarning]]:
    """Turn a validated spec into the internal model, with the warnings it deserves."""
    warnings: list[SpecWarning] = []
    if spec.objective < 1:
        warnings.append(
            SpecWarning(
                source,
                spec.name,
                "objective",
                f"{spec.objective:g} looks like a ratio; objectives are percentages, "
                f"did you mean {spec.objective * 100:g}?",
            )
        )
    elif spec.objective < 90:
        warnings.append(
            SpecWarning(source, spec.name, "objective", f"{spec.objective:g} % is unusually low for an SLO")
        )
    sli: SLI
    if spec.sli.kind in LATENCY_KINDS:
        assert spec.sli.threshold_seconds is not None  # enforced by SLISpec
        sli = LatencySLI(spec.sli.kind, spec.sli.threshold_seconds)
    else:
        if spec.sli.count_http_5xx and "model_name" in spec.group_by:
            warnings.append(
                SpecWarning(
                    source,
                    spec.name,
                    "sli.count_http_5xx",
                    "HTTP responses carry no model_name, so 5xx responses are not counted when grouping by model_name",
                )
            )
        sli = AvailabilitySLI(tuple(spec.sli.error_finished_reasons), spec.sli.count_http_5xx)
    slo = SLO(
        name=spec.name,
        objective=round(spec.objective / 100, 12),
        period=parse_duration(spec.window),
        sli=sli,
        group_by=tuple(spec.group_by),
        matchers=tuple(sorted(spec.matchers.items())),
        description=spec.description,
        source=source,
    )
    return slo, warnings
