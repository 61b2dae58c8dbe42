"""Backfilling a Prometheus TSDB with promtool: series written as OpenMetrics, turned into blocks, installed.

A history that would take days to scrape is written instead: every sample of every series as
OpenMetrics text, imported with `promtool tsdb create-blocks-from openmetrics`, and the blocks
promtool writes moved into the data folder of a Prometheus that is (re)started over it. The demo's
history, the end-to-end tests' histories and the benchmarks build their TSDBs this way (through
`inferwatch.localstack.backfilled.BackfilledPrometheus`).

Recorded series come either from range queries written back the same way, or from `promtool tsdb
create-blocks-from rules` (`create_rule_blocks`), which evaluates rule groups at the times
Prometheus would: its interval grid shifted by an offset hashed from the group name and the rule
file path as given on the command line, to the nanosecond. It queries each 2 h block up to the
block's end cut to whole seconds, so a group whose evaluations fall in the last second of a block
loses one evaluation per block (1/60 of them at a 2-minute interval). Rule files are therefore
passed by name from their own folder (the offsets no longer depend on where a temporary folder
is), and every run checks the blocks promtool wrote for that loss (`lost_rule_evaluations`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from inferwatch.errors import InferwatchError
from inferwatch.promql import escape_label_value, format_number
from inferwatch.slo.windows import parse_duration
from inferwatch.tools import Toolbox

# promtool's rule backfill writes one block per rule and 2 h range (tsdb.DefaultBlockDuration).
RULE_BLOCK_MS = 2 * 3600 * 1000


class BackfillError(InferwatchError):
    """promtool could not turn a history into TSDB blocks; the message says why."""


class LostEvaluationsError(BackfillError):
    """promtool skipped rule evaluations at the end of its 2 h blocks (see the module docstring)."""


@dataclass(frozen=True)
class Series:
    """One series and its samples: (unix seconds, value), in increasing time order."""

    name: str
    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]


def write_openmetrics(series: Iterable[Series], path: Path) -> int:
    """Write ``series`` as OpenMetrics text promtool can backfill; returns the number of samples.

    Samples of one metric name stay together (OpenMetrics forbids interleaving); no TYPE lines, so
    names keep the suffixes the real exporters use (`_total`, `_bucket`).
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
                    f.write(f"{prefix} {format_number(v, significant=None)} {t:.3f}\n")
                    count += 1
        f.write("# EOF\n")
    return count


def create_blocks(
    tools: Toolbox, om_file: Path, out_dir: Path, *, max_block_duration: str = "24h", timeout_s: float = 900
) -> None:
    """`promtool tsdb create-blocks-from openmetrics` of ``om_file`` into ``out_dir``; BackfillError on failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(tools.path("promtool")),
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={max_block_duration}",
        str(om_file),
        str(out_dir),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise BackfillError(f"promtool tsdb create-blocks-from openmetrics {om_file.name} failed ({proc.returncode}): "
                            f"{(proc.stderr or proc.stdout)[-3000:]}")  # fmt: skip


def install_blocks(src: Path, data_dir: Path) -> int:
    """Move the TSDB blocks promtool wrote under ``src`` into ``data_dir`` and remove ``src``; returns how many.

    Prometheus loads blocks at start-up: restart it over ``data_dir`` to query them.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    moved = 0
    for block in sorted(src.iterdir()) if src.is_dir() else []:
        if block.is_dir() and (block / "meta.json").exists():
            shutil.move(str(block), data_dir / block.name)
            moved += 1
    shutil.rmtree(src, ignore_errors=True)
    return moved


def backfill_series(
    tools: Toolbox,
    series: Iterable[Series],
    work_dir: Path,
    data_dir: Path,
    *,
    name: str = "raw",
    max_block_duration: str = "24h",
) -> int:
    """Write ``series`` as ``<work_dir>/<name>.om``, import it and install its blocks in ``data_dir``.

    Returns the number of samples written; the OpenMetrics file and promtool's output folder are removed.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    om = work_dir / f"{name}.om"
    written = write_openmetrics(series, om)
    out = work_dir / f"blocks-{name}"
    create_blocks(tools, om, out, max_block_duration=max_block_duration)
    om.unlink()
    install_blocks(out, data_dir)
    return written


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
        block_end = (min_ms // RULE_BLOCK_MS + 1) * RULE_BLOCK_MS
        for interval in intervals_ms:
            skipped = block_end - (block_end - min_ms) % interval
            if block_end - 1000 < skipped < block_end and skipped <= end_ms:
                lost.add(skipped)
    return [datetime.fromtimestamp(t / 1000, UTC) for t in sorted(lost)]


def create_rule_blocks(
    tools: Toolbox,
    url: str,
    rule_file: Path,
    start: datetime,
    end: datetime,
    out_dir: Path,
    *,
    eval_interval: str = "60s",
    timeout_s: float = 900,
) -> None:
    """`promtool tsdb create-blocks-from rules` of ``rule_file`` against the Prometheus at ``url``.

    Rules of one file must not read each other's series (promtool evaluates them against the data
    Prometheus already has): `inferwatch.localstack.rulepasses` splits rules into passes. promtool
    runs in the rule file's folder and gets its bare name: the evaluation offsets hash the path as
    given, so they (and the backfilled timestamps) are the same on every run and machine.
    BackfillError when promtool fails, LostEvaluationsError when the offset of a group makes it
    skip an evaluation at the end of every 2 h block.
    """
    rule_file = rule_file.resolve()
    out_dir = out_dir.resolve()
    intervals = _rule_intervals_ms(rule_file, eval_interval)
    start_ms = int(start.timestamp()) * 1000
    first_block_left = RULE_BLOCK_MS - start_ms % RULE_BLOCK_MS
    # promtool cuts a block's end to whole seconds, so a grid point in the block's last second is lost too.
    if max(intervals, default=0) + 1000 > first_block_left:
        # promtool stops the whole import (it breaks, not skips) when the first, partial 2 h block
        # holds no evaluation of a group: with a 1 h group that depends on the minute of the day.
        # Starting at the block's edge gives every block its full span of evaluations.
        start = datetime.fromtimestamp(start_ms // RULE_BLOCK_MS * RULE_BLOCK_MS / 1000, UTC)
    argv = [
        str(tools.path("promtool")),
        "tsdb",
        "create-blocks-from",
        "rules",
        f"--url={url}",
        f"--start={int(start.timestamp())}",
        f"--end={int(end.timestamp())}",
        f"--eval-interval={eval_interval}",
        f"--output-dir={out_dir}",
        "--quiet",
        rule_file.name,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=rule_file.parent)
    if proc.returncode != 0:
        raise BackfillError(
            f"promtool tsdb create-blocks-from rules {rule_file.name} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    lost = lost_rule_evaluations(out_dir, intervals, end)
    if lost:
        raise LostEvaluationsError(
            f"promtool skipped {len(lost)} evaluations of {rule_file.name} (first at {lost[0].isoformat()}): "
            "a group's evaluation offset, hashed from its name and the rule file name, falls in the last "
            "second of a 2 h block, which promtool cuts off; rename the rule file to move the offset"
        )
