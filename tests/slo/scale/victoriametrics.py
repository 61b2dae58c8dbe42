"""VictoriaMetrics single-node and vmalert on loopback: the scale-out backend the generated rules must run on.

`VictoriaMetricsHistory` mirrors inferwatch.localstack.backfilled for VictoriaMetrics: raw series are
imported through `/api/v1/import/prometheus` (the text format, millisecond timestamps), and
recorded series come from `vmalert` in replay mode (`-replay.timeFrom/-replay.timeTo`), which
evaluates each rule over the range with range queries at its group's interval and writes the
results back by remote write — pass by pass, like `promtool tsdb create-blocks-from rules`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from inferwatch.localstack.backfill import Series
from inferwatch.localstack.launchers import loopback
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, http_ok, wait_for
from inferwatch.localstack.rulepasses import pass_runs
from inferwatch.promql import escape_label_value
from inferwatch.rules import RuleGroup, to_prometheus_yaml
from inferwatch.tools import Toolbox


def _start(
    group: ProcessGroup, name: str, argv: list[str], port: int, ready_path: str, workdir: Path
) -> ManagedProcess:
    mp = group.spawn(name, argv, loopback(port), cwd=workdir, log_path=workdir / f"{name}.log")
    wait_for(http_ok(mp.url + ready_path), f"{ready_path} answers 200", timeout=60, watch=[mp])
    return mp


def start_victoriametrics(group: ProcessGroup, tools: Toolbox, workdir: Path) -> ManagedProcess:
    """victoria-metrics (single node) on a free port, storing under ``workdir``, ready when returned.

    The response cache is off (a backfill lands behind what it may have cached) and the latest
    30 s are not held back, so a query sees exactly what was imported. One sample per timestamp
    (`-dedup.minScrapeInterval=1ms`): vmalert's replay evaluates a range in chunks whose two ends
    are both evaluated, so a rule's sample on a chunk boundary is written twice, and a count of
    samples (the SLO's recording coverage counts its heartbeats) would count it twice — Prometheus
    keeps one sample per timestamp.
    """
    port = free_port()
    argv = [
        str(tools.path("victoria-metrics")),
        f"-storageDataPath={workdir / 'vm-data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.disableCache",
        "-search.latencyOffset=0s",
        "-dedup.minScrapeInterval=1ms",
        "-loggerLevel=WARN",
    ]
    return _start(group, "victoria-metrics", argv, port, "/health", workdir)


def start_vmalert(
    group: ProcessGroup, tools: Toolbox, rule_files: Sequence[Path], datasource: str, workdir: Path
) -> ManagedProcess:
    """vmalert evaluating ``rule_files`` live against ``datasource`` (results written back to it)."""
    port = free_port()
    argv = [
        str(tools.path("vmalert")),
        *(f"-rule={f}" for f in rule_files),
        f"-datasource.url={datasource}",
        f"-remoteWrite.url={datasource}",
        "-notifier.blackhole",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-evaluationInterval=5s",
        "-loggerLevel=WARN",
    ]
    return _start(group, "vmalert", argv, port, "/-/healthy", workdir)


def _exposition(series: Iterable[Series]) -> Iterable[str]:
    for s in series:
        labels = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(s.labels.items()))
        prefix = f"{s.name}{{{labels}}}" if labels else s.name
        for t, v in s.points:
            yield f"{prefix} {v!r} {round(t * 1000)}\n"


@dataclass
class VictoriaMetricsHistory:
    """A VictoriaMetrics holding imported raw series and vmalert-replayed rule passes."""

    tools: Toolbox
    workdir: Path
    process: ManagedProcess | None = field(default=None, init=False)
    _passes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.group = ProcessGroup(self.workdir)

    @property
    def url(self) -> str:
        """Base URL of VictoriaMetrics's Prometheus-compatible API."""
        if self.process is None:
            raise RuntimeError("VictoriaMetrics is not started; call start() first")
        return self.process.url

    def start(self) -> None:
        """Start VictoriaMetrics (idempotent)."""
        if self.process is None:
            self.process = start_victoriametrics(self.group, self.tools, self.workdir)

    def stop(self) -> None:
        """Stop VictoriaMetrics."""
        if self.process is not None:
            self.group.stop_all()
            self.process = None

    def flush(self) -> None:
        """Make everything written so far searchable."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=60).raise_for_status()

    def add_raw(self, series: Iterable[Series], batch: int = 200_000) -> int:
        """Import ``series`` through /api/v1/import/prometheus; returns the samples sent."""
        self.start()
        count, buf = 0, []
        with httpx.Client(timeout=300) as client:
            for line in _exposition(series):
                buf.append(line)
                if len(buf) >= batch:
                    client.post(f"{self.url}/api/v1/import/prometheus", content="".join(buf)).raise_for_status()
                    count, buf = count + len(buf), []
            if buf:
                client.post(f"{self.url}/api/v1/import/prometheus", content="".join(buf)).raise_for_status()
                count += len(buf)
        self.flush()
        return count

    def replay(self, rule_file: Path, start: datetime, end: datetime) -> str:
        """Evaluate ``rule_file``'s groups over [start, end] with vmalert's replay mode; returns its output."""
        self.start()
        self._passes += 1
        argv = [
            str(self.tools.path("vmalert")),
            f"-rule={rule_file}",
            f"-datasource.url={self.url}",
            f"-remoteWrite.url={self.url}",
            f"-replay.timeFrom={start.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            f"-replay.timeTo={end.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "-replay.disableProgressBar",
            "-replay.rulesDelay=2s",
            f"-httpListenAddr=127.0.0.1:{free_port()}",
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, cwd=self.workdir)
        if proc.returncode != 0:
            raise RuntimeError(
                f"vmalert replay of {rule_file.name} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
            )
        self.flush()
        return proc.stdout + proc.stderr

    def replay_groups(
        self, groups: Sequence[RuleGroup], start: datetime, end: datetime, starts: Mapping[str, datetime] | None = None
    ) -> None:
        """Replay every recording rule of ``groups`` over [start, end], pass by pass as the rules read each other.

        One pass per dependency level: vmalert's replay does not wait for a rule's results to be
        searchable. ``starts``: records replayed from a later start (see `pass_runs`).
        """
        for i, runs in enumerate(pass_runs(groups, start, starts)):
            for k, (since, rule_file) in enumerate(runs):
                path = self.workdir / f"pass-{i}-{k}.yaml"
                path.write_text(to_prometheus_yaml(rule_file))
                self.replay(path, since, end)
