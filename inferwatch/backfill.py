"""Backfilling a Prometheus TSDB with promtool: series written as OpenMetrics, turned into blocks, installed.

A history that would take days to scrape is written instead: every sample of every series as
OpenMetrics text, imported with `promtool tsdb create-blocks-from openmetrics`, and the blocks
promtool writes moved into the data folder of a Prometheus that is (re)started over it. The demo's
history (inferwatch.demo.history), the end-to-end tests' histories and the benchmarks build
their TSDBs this way.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from inferwatch.errors import InferwatchError
from inferwatch.promql import escape_label_value
from inferwatch.tools import Toolbox


class BackfillError(InferwatchError):
    """promtool could not turn a history into TSDB blocks; the message says why."""


@dataclass(frozen=True)
class Series:
    """One series and its samples: (unix seconds, value), in increasing time order."""

    name: str
    labels: Mapping[str, str]
    points: Sequence[tuple[float, float]]


def _format_value(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    return repr(float(v))


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
                    f.write(f"{prefix} {_format_value(v)} {t:.3f}\n")
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
