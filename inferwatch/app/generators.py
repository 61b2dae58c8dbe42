"""Every generator and packager of `inferwatch build`, registered by direct reference, in build order.

A generator is an area's pure function ``config -> [Artifact]``; a packager is a stage over the
generators' output, ``(config, their artifacts) -> [Artifact]`` (the Helm chart embeds the rule
files and dashboards the generators made, it never runs them again). The area names are what
`inferwatch build --only` accepts. Add an area with one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inferwatch.alerts import generate as alerts
from inferwatch.app.chart import package as chart
from inferwatch.artifacts import Artifact
from inferwatch.config import InferwatchConfig
from inferwatch.dashboards import generate as dashboards
from inferwatch.exporters import reference as exporter
from inferwatch.localstack import prometheus_config
from inferwatch.slo import generate as slo
from inferwatch.slo.cost import generate as cost
from inferwatch.workloads import generate as workloads

GenerateFn = Callable[[InferwatchConfig], list[Artifact]]
PackageFn = Callable[[InferwatchConfig, Sequence[Artifact]], list[Artifact]]


@dataclass(frozen=True)
class Generator:
    """One area's generator: ``generate`` is a pure function(config) -> [Artifact]."""

    area: str
    generate: GenerateFn


@dataclass(frozen=True)
class Packager:
    """A packaging stage: ``package(config, upstream)`` makes its files from every generator's artifacts."""

    area: str
    package: PackageFn


def local_prometheus(_: InferwatchConfig) -> list[Artifact]:
    """The local stack's Prometheus configuration (demo and end-to-end tests)."""
    return prometheus_config.artifacts()


GENERATORS: tuple[Generator, ...] = (
    Generator("prometheus", local_prometheus),
    Generator("slo", slo.artifacts),
    Generator("alerts", alerts.artifacts),
    Generator("cost", cost.artifacts),
    Generator("exporter", exporter.artifacts),
    Generator("workloads", workloads.artifacts),
    Generator("dashboards", dashboards.artifacts),
)

PACKAGERS: tuple[Packager, ...] = (Packager(chart.CHART_AREA, chart.chart_artifacts),)


def areas() -> list[str]:
    """The names `--only` accepts, in build order."""
    return [g.area for g in GENERATORS] + [p.area for p in PACKAGERS]
