"""Writes one benchmark's figures into its own section of docs/benchmarks.md (atomically).

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``;
other sections are kept as they are, so benchmarks can be re-run one at a time.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from inferwatch.fileio import write_atomic

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_TITLE = "# Benchmarks\n\nFigures written by the benchmarks under `bench/`; each section names its machine.\n"


def machine_description() -> str:
    """A one-line description of this machine: CPU model, cores, memory, OS, Python."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        if m:
            cpu = m.group(1).strip()
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        m = re.search(r"^MemTotal:\s*(\d+) kB", meminfo.read_text(), re.M)
        if m:
            mem = f", {int(m.group(1)) / 1024 / 1024:.0f} GiB RAM"
    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def gpu_description() -> str | None:
    """`nvidia-smi` name and driver of GPU 0, or None without one."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.strip().splitlines()[0] if out.strip() else ""
    return first or None


def run_end(ends: Iterable[float | None]) -> datetime | None:
    """The latest of a run's end times (epoch seconds), None where none is known (an older --json file)."""
    known = [e for e in ends if e is not None]
    return datetime.fromtimestamp(max(known), UTC) if known else None


def update_section(name: str, markdown: str, path: Path = BENCHMARKS_MD, recorded: datetime | None = None) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``markdown``, stamped with
    ``recorded`` (when the figures were measured; now when not given)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else _TITLE
    when = (recorded or datetime.now(UTC)).astimezone(UTC)
    block = f"{start}\n{markdown.strip()}\n\n_Recorded {when:%Y-%m-%d %H:%M} UTC._\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    write_atomic(path, text)
