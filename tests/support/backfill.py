"""Backfilled Prometheus histories for end-to-end tests: raw series, then recording rules, pass by pass.

Raw series (what vLLM and the exporter would have exposed) are written as OpenMetrics and
turned into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`. Recorded series
over that history come from `promtool tsdb create-blocks-from rules`, which evaluates rules
against a running Prometheus; because it cannot evaluate rules that depend on other rules in
the same pass, each rule file is one pass, and Prometheus is restarted between passes so the
blocks of the previous pass are queryable.

Typical use::

    hist = BackfilledPrometheus(tools, tmp_path)
    hist.add_raw(series)                       # list[Series]
    hist.start()
    hist.backfill_rules(normalize_yaml, start, end, eval_interval="1m")
    hist.backfill_rules(slo_short_yaml, start, end)
    hist.backfill_rules(slo_long_yaml, end - timedelta(minutes=10), end)
    reader = PrometheusReader(PrometheusSettings(url=hist.url))
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from inferwatch.prometheus_config import LocalStack, render_yaml
from inferwatch.promql import escape_label_value
from inferwatch.tools import Toolbox
from tests.support.processes import RunningProcess, start_prometheus


@dataclass(frozen=True)
class Series:
    """One raw series and its samples: (unix seconds, value), in increasing time order."""

    name: str
    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]


def counter_points(
    rate: Callable[[float], float], start: float, end: float, step: float, initial: float = 0.0
) -> list[tuple[float, float]]:
    """A cumulative counter sampled every ``step`` s whose increase over each step is ``rate(t) * step``.

    ``rate(t)`` is evaluated at the start of each step, so the exact increase between two
    sample times is known to the test (sum of rate(t_i) * step).
    """
    points = [(start, initial)]
    value = initial
    t = start
    while t + step <= end + 1e-9:
        value += rate(t) * step
        t += step
        points.append((t, value))
    return points


def gauge_points(
    value: Callable[[float], float | None], start: float, end: float, step: float
) -> list[tuple[float, float]]:
    """A gauge sampled every ``step`` s; a ``None`` value leaves a gap (target absent)."""
    points: list[tuple[float, float]] = []
    t = start
    while t <= end + 1e-9:
        v = value(t)
        if v is not None:
            points.append((t, v))
        t += step
    return points


def _format_value(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    return repr(float(v))


def write_openmetrics(series: Iterable[Series], path: Path) -> int:
    """Write ``series`` as an OpenMetrics file promtool can backfill; returns the sample count.

    Samples of one metric name are kept together (OpenMetrics forbids interleaving families);
    no TYPE lines are written, so names keep whatever suffixes the real exporters use.
    """
    by_name: dict[str, list[Series]] = {}
    for s in series:
        by_name.setdefault(s.name, []).append(s)
    count = 0
    with path.open("w") as f:
        for name in sorted(by_name):
            for s in by_name[name]:
                labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(s.labels.items()))
                prefix = f"{name}{{{labels}}}" if labels else name
                for t, v in s.points:
                    f.write(f"{prefix} {_format_value(v)} {t:.3f}\n")
                    count += 1
        f.write("# EOF\n")
    return count


def _run(argv: list[str], what: str, timeout: float = 900) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _move_blocks(src: Path, dst: Path) -> int:
    moved = 0
    if not src.is_dir():
        return 0
    for block in src.iterdir():
        if block.is_dir() and (block / "meta.json").exists():
            shutil.move(str(block), dst / block.name)
            moved += 1
    return moved


@dataclass
class BackfilledPrometheus:
    """A real Prometheus 3 over a TSDB built from backfilled raw series and rule passes."""

    tools: Toolbox
    workdir: Path
    data_dir: Path = field(init=False)
    process: RunningProcess | None = field(default=None, init=False)
    _passes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.data_dir = self.workdir / "tsdb"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.workdir / "prometheus.yml"
        # No scrape targets and no rules: the history is all backfilled, nothing is evaluated live.
        self.config_file.write_text(render_yaml(LocalStack(targets=())))

    @property
    def url(self) -> str:
        """Base URL of the running Prometheus."""
        if self.process is None:
            raise RuntimeError("Prometheus is not started; call start() first")
        return self.process.url

    def add_raw(self, series: Iterable[Series], max_block_duration: str = "24h") -> int:
        """Backfill raw series into the TSDB (before or between starts); returns samples written."""
        om = self.workdir / f"raw-{self._passes}.om"
        n = write_openmetrics(series, om)
        out = self.workdir / f"raw-blocks-{self._passes}"
        out.mkdir(parents=True, exist_ok=True)
        _run(
            [
                str(self.tools.path("promtool")),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                f"--max-block-duration={max_block_duration}",
                str(om),
                str(out),
            ],
            "promtool tsdb create-blocks-from openmetrics",
        )
        om.unlink()
        self._install_blocks(out)
        return n

    def _install_blocks(self, out: Path) -> None:
        self._passes += 1
        running = self.process is not None
        if running:
            self.stop()
        _move_blocks(out, self.data_dir)
        shutil.rmtree(out, ignore_errors=True)
        if running:
            self.start()

    def start(self) -> None:
        """Start Prometheus over the TSDB (idempotent)."""
        if self.process is None:
            self.process = start_prometheus(self.tools, self.config_file, self.workdir, storage=self.data_dir)

    def stop(self) -> None:
        """Stop Prometheus (the TSDB stays for the next start)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def backfill_rules(self, rule_file: Path, start: datetime, end: datetime, eval_interval: str = "60s") -> None:
        """Evaluate every recording rule of ``rule_file`` over [start, end] and add the result.

        Rules of one file must not depend on each other (promtool evaluates them against the
        data Prometheus already has): split dependent rules into successive passes.
        """
        self.start()
        out = self.workdir / f"rule-blocks-{self._passes}"
        _run(
            [
                str(self.tools.path("promtool")),
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--url={self.url}",
                f"--start={int(start.timestamp())}",
                f"--end={int(end.timestamp())}",
                f"--eval-interval={eval_interval}",
                f"--output-dir={out}",
                "--quiet",
                str(rule_file),
            ],
            f"promtool tsdb create-blocks-from rules {rule_file.name}",
        )
        self._install_blocks(out)
