"""The demo's settings (duration, timeline, ports, output) and the inferwatch configuration it runs on."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from inferwatch.config import InferwatchConfig, parse_config
from inferwatch.errors import UsageError

DEMO_CONFIG_RESOURCE = "demo.yaml"
DEFAULT_BASE_PORT = 19090
DEFAULT_DURATION_S = 600.0
# The slowest part of the story: the SLO page needs ~3 minutes of incident (the 14-minute burn
# window must reach 14.4x), plus its 2-minute `for:`, plus scrape, evaluation and routing delays.
SLO_PAGE_NEEDS_S = 330.0
# How long the demo's Prometheus (and the history's helper) keep samples: the backfilled week and more.
RETENTION = "30d"


@dataclass(frozen=True)
class Ports:
    """Every loopback port of the stack, from one base port."""

    base: int

    @property
    def prometheus(self) -> int:
        """Prometheus HTTP API."""
        return self.base

    @property
    def alertmanager(self) -> int:
        """Alertmanager HTTP API."""
        return self.base + 1

    @property
    def receiver(self) -> int:
        """The webhook receiver that records pages."""
        return self.base + 2

    @property
    def history_prometheus(self) -> int:
        """The helper Prometheus the history's rules are evaluated on."""
        return self.base + 3

    def sim(self, i: int) -> int:
        """llm-d-inference-sim number ``i`` (rank ports follow it)."""
        return self.base + 10 + 2 * i

    def engine_families(self, i: int) -> int:
        """The load generator's measured vLLM families of simulator rank number ``i`` (see engine_families.py)."""
        return self.base + 20 + i

    def sidecar(self, i: int) -> int:
        """Sidecar exporter number ``i``."""
        return self.base + 30 + i

    @property
    def node_exporter(self) -> int:
        """The DaemonSet-mode exporter of the simulated node."""
        return self.base + 40


@dataclass(frozen=True)
class DemoSettings:
    """How long the demo runs, when its incident happens, where it listens and writes."""

    out_dir: Path
    duration_s: float = DEFAULT_DURATION_S
    incident_start_s: float | None = None
    incident_end_s: float | None = None
    alert_for: str = "2m"
    scrape_interval_s: int = 10
    evaluation_interval_s: int = 30
    refresh_s: float = 30.0
    base_port: int = DEFAULT_BASE_PORT
    live_view: bool = True

    @property
    def ports(self) -> Ports:
        """The stack's ports."""
        return Ports(self.base_port)

    @property
    def incident_start(self) -> float:
        """Seconds after live traffic starts when the incident begins (default: a quarter in)."""
        if self.incident_start_s is not None:
            return self.incident_start_s
        return round(self.duration_s * 0.25)

    @property
    def incident_end(self) -> float:
        """Seconds after live traffic starts when the incident ends (default: 85 % in)."""
        if self.incident_end_s is not None:
            return self.incident_end_s
        return round(self.duration_s * 0.85)

    def validate(self) -> None:
        """Raise UsageError when the timeline cannot tell the story (e.g. too short to page)."""
        if self.duration_s < 60:
            raise UsageError(f"--duration {self.duration_s:g}s: the demo needs at least 60 s")
        if not 0 <= self.incident_start < self.incident_end <= self.duration_s:
            raise UsageError(
                f"--incident-start {self.incident_start:g}s / --incident-end {self.incident_end:g}s must satisfy "
                f"0 <= start < end <= duration ({self.duration_s:g}s)"
            )
        if self.scrape_interval_s <= 0 or self.evaluation_interval_s <= 0:
            raise UsageError("scrape and evaluation intervals must be positive")
        if not 1024 <= self.base_port <= 65535 - 64:
            raise UsageError(f"--base-port {self.base_port}: use a port between 1024 and {65535 - 64}")

    def pages_expected(self) -> bool:
        """Whether the incident lasts long enough for the SLO page (the slowest page) to arrive."""
        return min(self.incident_end, self.duration_s) - self.incident_start >= SLO_PAGE_NEEDS_S


def demo_config_text() -> str:
    """The packaged demo configuration (demo.yaml) as text."""
    return resources.files("inferwatch.demo").joinpath(DEMO_CONFIG_RESOURCE).read_text()


def demo_config(settings: DemoSettings) -> InferwatchConfig:
    """The packaged demo configuration with the settings' timing overrides, validated."""
    data = yaml.safe_load(demo_config_text())
    data.setdefault("thresholds", {})["ttft_for"] = settings.alert_for
    data["prometheus"] = {"url": f"http://127.0.0.1:{settings.ports.prometheus}", "retries": 1}
    return parse_config(data, f"inferwatch/demo/{DEMO_CONFIG_RESOURCE}")
