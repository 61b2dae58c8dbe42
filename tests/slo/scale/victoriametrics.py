"""VictoriaMetrics single-node and vmalert on loopback: the scale-out backend the generated rules must run on.

`VictoriaMetricsHistory` mirrors tests/support/backfill.py for VictoriaMetrics: raw series are
imported through `/api/v1/import/prometheus` (the text format, millisecond timestamps), and
recorded series come from `vmalert` in replay mode (`-replay.timeFrom/-replay.timeTo`), which
evaluates each rule over the range with range queries at its group's interval and writes the
results back by remote write — pass by pass, like `promtool tsdb create-blocks-from rules`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from inferwatch.backfill import Series
from inferwatch.promql import escape_label_value
from inferwatch.tools import Toolbox
from tests.support.processes import RunningProcess, _spawn, free_port, wait_http_ok


def start_victoriametrics(tools: Toolbox, workdir: Path) -> RunningProcess:
    """victoria-metrics (single node) on a free port, storing under ``workdir``, ready when returned.

    The response cache is off (a backfill lands behind what it may have cached) and the latest
    30 s are not held back, so a query sees exactly what was imported.
    """
    port = free_port()
    argv = [
        str(tools.path("victoria-metrics")),
        f"-storageDataPath={workdir / 'vm-data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.disableCache",
        "-search.latencyOffset=0s",
        "-loggerLevel=WARN",
    ]
    proc, log = _spawn("victoria-metrics", argv, workdir)
    rp = RunningProcess("victoria-metrics", proc, f"http://127.0.0.1:{port}", log, workdir)
    wait_http_ok(rp, "/health", timeout=60)
    return rp


def start_vmalert(tools: Toolbox, rule_files: Sequence[Path], datasource: str, workdir: Path) -> RunningProcess:
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
    proc, log = _spawn("vmalert", argv, workdir)
    rp = RunningProcess("vmalert", proc, f"http://127.0.0.1:{port}", log, workdir)
    wait_http_ok(rp, "/-/healthy", timeout=60)
    return rp


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
    process: RunningProcess | None = field(default=None, init=False)
    _passes: int = field(default=0, init=False)

    @property
    def url(self) -> str:
        """Base URL of VictoriaMetrics's Prometheus-compatible API."""
        if self.process is None:
            raise RuntimeError("VictoriaMetrics is not started; call start() first")
        return self.process.url

    def start(self) -> None:
        """Start VictoriaMetrics (idempotent)."""
        if self.process is None:
            self.process = start_victoriametrics(self.tools, self.workdir)

    def stop(self) -> None:
        """Stop VictoriaMetrics."""
        if self.process is not None:
            self.process.stop()
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
