"""A real Prometheus 3 over a backfilled TSDB: raw series first, then recorded series pass by pass.

Raw series (what vLLM and the exporter would have exposed) are written as OpenMetrics and turned
into TSDB blocks (inferwatch.localstack.backfill). Recorded series over that history come pass by
pass — the passes derived from which recorded series each rule reads
(inferwatch.localstack.rulepasses) — either from `promtool tsdb create-blocks-from rules`
(`backfill_groups`: one block per rule and 2 h, as a test wants Prometheus's own evaluation
times) or from range queries written back as OpenMetrics (`backfill_by_query`: a few day-long
blocks per pass, as the demo's week of history wants). Prometheus reads blocks at start-up, so it
is stopped while blocks are added and started again over them.

Typical use::

    hist = BackfilledPrometheus(tools, tmp_path)
    hist.add_raw(series)                        # list[Series]
    hist.backfill_groups(rule_groups, start, end, eval_interval="1m")
    reader = PrometheusReader(PrometheusSettings(url=hist.url))
    ...
    hist.stop()
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from inferwatch.config import PrometheusSettings
from inferwatch.localstack.backfill import Series, backfill_series, create_rule_blocks, install_blocks
from inferwatch.localstack.launchers import DEFAULT_RETENTION, WebAccess, start_prometheus
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup
from inferwatch.localstack.prometheus_config import LocalStack, render_yaml
from inferwatch.localstack.rulepasses import pass_runs, rule_passes
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RecordingRule, RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox

log = logging.getLogger(__name__)

# Range queries are split so that no query returns more than this many points per series.
MAX_POINTS_PER_QUERY = 10_000

Progress = Callable[[str], None]
# A rule to evaluate and the interval (seconds) it is evaluated at.
TimedRule = tuple[RecordingRule, float]


def _quiet(message: str) -> None:
    """Progress nobody shows."""


class BackfilledPrometheus:
    """A Prometheus 3 (no scrape targets, no live rules) over a TSDB built from backfilled series."""

    def __init__(
        self,
        tools: Toolbox,
        workdir: Path,
        *,
        data_dir: Path | None = None,
        config_file: Path | None = None,
        group: ProcessGroup | None = None,
        name: str = "prometheus",
        port: int | None = None,
        retention: str = DEFAULT_RETENTION,
        lifecycle: bool = True,
        extra_args: Sequence[str] = (),
        ready_timeout_s: float = 60.0,
        web_config_file: Path | None = None,
        access: WebAccess | None = None,
    ) -> None:
        """A Prometheus named ``name`` in ``group`` (its own group, logging to ``workdir``, when None).

        ``workdir`` holds the OpenMetrics files and promtool's output while they are written;
        ``data_dir`` (default ``<workdir>/tsdb``) the TSDB; ``config_file`` (default
        ``<workdir>/prometheus.yml``) a configuration with nothing to scrape and no rules.
        ``web_config_file`` secures it with Prometheus's own web configuration (TLS, basic auth),
        ``access`` says how to reach it then.
        """
        self.tools = tools
        self.workdir = workdir
        self.data_dir = data_dir or workdir / "tsdb"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = config_file or workdir / "prometheus.yml"
        # No scrape targets and no rules: the history is all backfilled, nothing is evaluated live.
        self.config_file.write_text(render_yaml(LocalStack(targets=())))
        self.group = group or ProcessGroup(workdir)
        self.name = name
        self.port = port
        self.retention = retention
        self.lifecycle = lifecycle
        self.extra_args = tuple(extra_args)
        self.ready_timeout_s = ready_timeout_s
        self.web_config_file = web_config_file
        self.access = access
        self.process: ManagedProcess | None = None
        self._passes = 0

    @property
    def url(self) -> str:
        """Base URL of the running Prometheus."""
        if self.process is None:
            raise RuntimeError("Prometheus is not started; call start() first")
        return self.process.url

    def start(self) -> None:
        """Start Prometheus over the TSDB (idempotent)."""
        if self.process is None:
            self.process = start_prometheus(
                self.group,
                self.tools,
                self.config_file,
                self.data_dir,
                port=self.port,
                name=self.name,
                retention=self.retention,
                lifecycle=self.lifecycle,
                extra_args=self.extra_args,
                web_config_file=self.web_config_file,
                access=self.access,
                timeout=self.ready_timeout_s,
            )

    def stop(self) -> None:
        """Stop Prometheus (the TSDB stays for the next start)."""
        if self.process is not None:
            self.group.stop(self.name)
            self.process = None

    @contextlib.contextmanager
    def _stopped(self) -> Iterator[None]:
        """Prometheus reads blocks at start-up: stop it while blocks are added, and start it again if it ran."""
        self._passes += 1
        running = self.process is not None
        self.stop()
        yield
        if running:
            self.start()

    def add_raw(self, series: Iterable[Series], max_block_duration: str = "24h", name: str | None = None) -> int:
        """Backfill ``series`` into the TSDB (before or between starts); returns the samples written."""
        with self._stopped():
            return backfill_series(
                self.tools,
                series,
                self.workdir,
                self.data_dir,
                name=name or f"raw-{self._passes}",
                max_block_duration=max_block_duration,
            )

    def backfill_rules(self, rule_file: Path, start: datetime, end: datetime, eval_interval: str = "60s") -> None:
        """One pass: evaluate every recording rule of ``rule_file`` over [start, end] with promtool and add the result.

        Rules of one file must not read each other's series; `backfill_groups` derives the passes.
        Prometheus is stopped when promtool fails (callers building a history get no handle to stop it).
        """
        self._install_rule_blocks([(rule_file, start)], end, eval_interval)

    def backfill_groups(
        self,
        groups: Sequence[RuleGroup],
        start: datetime,
        end: datetime,
        *,
        eval_interval: str = "60s",
        file_name: str = "rules.yaml",
        starts: Mapping[str, datetime] | None = None,
    ) -> None:
        """Backfill every recording rule of ``groups`` over [start, end], pass by pass, with promtool.

        Each pass is written as ``file_name`` in a folder of its own: the evaluation offsets hash
        the group and file names, so a group split over passes keeps the times Prometheus would
        give it whole (another ``file_name`` moves them). ``starts`` gives the records evaluated
        over a shorter span (from their own start): a rule read only around the end is cheaper so.
        """
        for runs in pass_runs(groups, start, starts):
            files = []
            for k, (since, rule_file) in enumerate(runs):
                path = self.workdir / f"rules-{self._passes}-{k}" / file_name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(to_prometheus_yaml(rule_file))
                files.append((path, since))
            self._install_rule_blocks(files, end, eval_interval)

    def _install_rule_blocks(self, files: Sequence[tuple[Path, datetime]], end: datetime, eval_interval: str) -> None:
        self.start()
        outs = []
        try:
            for k, (rule_file, since) in enumerate(files):
                out = self.workdir / f"rule-blocks-{self._passes}-{k}"
                create_rule_blocks(self.tools, self.url, rule_file, since, end, out, eval_interval=eval_interval)
                outs.append(out)
        except BaseException:
            self.stop()
            raise
        with self._stopped():
            for out in outs:
                install_blocks(out, self.data_dir)

    def backfill_by_query(
        self,
        rules: Sequence[TimedRule],
        start: datetime,
        end: datetime,
        *,
        progress: Progress = _quiet,
        query_timeout_s: float = 120.0,
    ) -> int:
        """Backfill ``rules`` (each with its interval) over [start, end] pass by pass; returns the samples.

        Each pass is evaluated by range queries on a started Prometheus, which is stopped again
        before the pass's series are added (see `evaluate_rules`).
        """
        passes = rule_passes(rules, lambda item: item[0])
        total = 0
        for i, members in enumerate(passes):
            progress(f"rule pass {i + 1}/{len(passes)}: {len(members)} rule(s)")
            self.start()
            try:
                reader = PrometheusReader(PrometheusSettings(url=self.url, timeout_s=query_timeout_s, retries=1))
                recorded = evaluate_rules(reader, members, start, end)
            finally:
                self.stop()
            if recorded:
                total += self.add_raw(recorded, name=f"pass-{i}")
        return total


def evaluate_rules(
    reader: PrometheusReader, rules: Sequence[TimedRule], start: datetime, end: datetime
) -> list[Series]:
    """Evaluate each (rule, interval) as a range query over [start, end] on its interval's grid.

    What `promtool tsdb create-blocks-from rules` does, but with one OpenMetrics file per pass
    instead of one block per rule and two hours. The result carries the rule's record name and
    extra labels, as a rule evaluation would.
    """
    out: list[Series] = []
    for rule, interval in rules:
        first = math.ceil(start.timestamp() / interval) * interval
        span = interval * (MAX_POINTS_PER_QUERY - 1)
        merged: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        t0 = first
        while t0 <= end.timestamp():
            t1 = min(t0 + span, end.timestamp())
            for rs in reader.query_range(rule.expr, _utc(t0), _utc(t1), interval):
                labels = {k: v for k, v in rs.labels.items() if k != "__name__"}
                labels.update(rule.labels)
                key = tuple(sorted(labels.items()))
                merged.setdefault(key, []).extend((t, v) for t, v in rs.points if math.isfinite(v))
            t0 = t1 + interval
        for key, points in merged.items():
            if points:
                out.append(Series(rule.record, dict(key), points))
        log.debug("history: %s -> %d series", rule.record, len(merged))
    return out


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
