"""Backfilled Prometheus histories for end-to-end tests: raw series, then recording rules, pass by pass.

Raw series (what vLLM and the exporter would have exposed) are written as OpenMetrics and
turned into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, as the demo's
history is (inferwatch.backfill). Recorded series over that history come from `promtool tsdb
create-blocks-from rules`, which evaluates rules against a running Prometheus; because it
cannot evaluate rules that depend on other rules in the same pass, each rule file is one pass,
and Prometheus is restarted between passes so the blocks of the previous pass are queryable.

promtool evaluates a rule group at the times Prometheus would: its interval grid shifted by an
offset hashed from the group name and the rule file path as given on the command line, to the
nanosecond. It queries each 2 h block up to the block's end cut to whole seconds, so a group
whose evaluations fall in the last second of a block loses one evaluation per block (1/60 of
them at a 2-minute interval). Rule files are therefore passed by name from their own folder
(the offsets no longer depend on where pytest puts its tmp dirs), and every pass checks the
blocks promtool wrote for that loss.

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

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from inferwatch.slo.windows import parse_duration

from inferwatch.backfill import Series, backfill_series, install_blocks
from inferwatch.prometheus_config import LocalStack, render_yaml
from inferwatch.tools import Toolbox
from tests.support.processes import RunningProcess, start_prometheus


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


# promtool's rule backfill writes one block per rule and 2 h range (tsdb.DefaultBlockDuration).
_RULE_BLOCK_MS = 2 * 3600 * 1000


def _run(argv: list[str], what: str, timeout: float = 900, cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _rule_intervals_ms(rule_file: Path, eval_interval: str) -> set[int]:
    """The evaluation intervals (ms) of the groups of ``rule_file`` (``eval_interval`` where unset)."""
    groups = (yaml.safe_load(rule_file.read_text()) or {}).get("groups") or []
    return {int(parse_duration(str(g.get("interval") or eval_interval)).total_seconds() * 1000) for g in groups}


def lost_rule_evaluations(blocks: Path, intervals_ms: Iterable[int], end: datetime) -> list[datetime]:
    """Evaluation times promtool skipped at the end of its 2 h rule blocks in ``blocks``.

    The samples of one rule block lie on its group's grid (the block's first sample + k x
    interval). promtool asks for each block up to its end cut to whole seconds, so a grid point
    in the block's last second (and not after ``end``) was never evaluated. A file whose groups
    have different intervals is checked against each of them (a block does not say its group).
    """
    end_ms = int(end.timestamp()) * 1000
    lost: set[int] = set()
    for meta_path in sorted(blocks.glob("*/meta.json")):
        min_ms = int(json.loads(meta_path.read_text())["minTime"])
        block_end = (min_ms // _RULE_BLOCK_MS + 1) * _RULE_BLOCK_MS
        for interval in intervals_ms:
            skipped = block_end - (block_end - min_ms) % interval
            if block_end - 1000 < skipped < block_end and skipped <= end_ms:
                lost.add(skipped)
    return [datetime.fromtimestamp(t / 1000, UTC) for t in sorted(lost)]


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
        with self._stopped():
            return backfill_series(
                self.tools,
                series,
                self.workdir,
                self.data_dir,
                name=f"raw-{self._passes}",
                max_block_duration=max_block_duration,
            )

    def _install_blocks(self, out: Path) -> None:
        with self._stopped():
            install_blocks(out, self.data_dir)

    @contextlib.contextmanager
    def _stopped(self) -> Iterator[None]:
        """Prometheus reads blocks at start-up: stop it while blocks are added, and start it again if it ran."""
        self._passes += 1
        running = self.process is not None
        self.stop()
        yield
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

        promtool runs in the rule file's folder and gets its bare name: the evaluation offsets
        hash the path as given, so they (and the backfilled timestamps) are the same on every run
        and machine instead of changing with the pytest tmp dir. Raises RuntimeError when the
        offset of a group makes promtool skip an evaluation at the end of every 2 h block.
        """
        self.start()
        rule_file = rule_file.resolve()
        out = (self.workdir / f"rule-blocks-{self._passes}").resolve()
        start_ms = int(start.timestamp()) * 1000
        first_block_left = _RULE_BLOCK_MS - start_ms % _RULE_BLOCK_MS
        # promtool cuts a block's end to whole seconds, so a grid point in the block's last second is lost too.
        if max(_rule_intervals_ms(rule_file, eval_interval)) + 1000 > first_block_left:
            # promtool stops the whole import (it breaks, not skips) when the first, partial 2 h block
            # holds no evaluation of a group: with a 1 h group that depends on the minute of the day.
            # Starting at the block's edge gives every block its full span of evaluations.
            start = datetime.fromtimestamp(start_ms // _RULE_BLOCK_MS * _RULE_BLOCK_MS / 1000, UTC)
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
                rule_file.name,
            ],
            f"promtool tsdb create-blocks-from rules {rule_file.name}",
            cwd=rule_file.parent,
        )
        lost = lost_rule_evaluations(out, _rule_intervals_ms(rule_file, eval_interval), end)
        if lost:
            # Callers building a history get no handle to stop Prometheus when this raises.
            self.stop()
            raise RuntimeError(
                f"promtool skipped {len(lost)} evaluations of {rule_file.name} (first at {lost[0].isoformat()}): "
                "a group's evaluation offset, hashed from its name and the rule file name, falls in the last "
                "second of a 2 h block, which promtool cuts off; rename the rule file to move the offset"
            )
        self._install_blocks(out)
