"""Replacing a report set all-or-nothing: write a new folder, then switch to it with one rename.

``<out>/cost-report-2026-W46`` is a symbolic link to a hidden folder
``<out>/.cost-report-2026-W46.<random>/`` holding the set's files. A new run writes (and syncs)
a complete new folder, points a new link at it and renames that link over the old one —
``rename(2)`` is atomic, so a reader (or a run killed at any instant) sees the old set or the
new one, never a mix. This is how Kubernetes updates ConfigMap volumes (its ``..data`` link).
What a killed run leaves behind (a hidden folder or link nothing points to) is removed by the
next run. A lock file keeps two runs in one folder from cleaning up each other's work.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "cost-report-"
LOCK_NAME = ".cost-report.lock"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    with open(out / LOCK_NAME, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _is_ours(name: str) -> bool:
    """A hidden folder, link or temporary file a report run writes (``.cost-report-…``)."""
    return name.startswith("." + PREFIX)


def remove_stale(out: Path) -> list[str]:
    """Remove what killed runs left in ``out``: hidden report folders, links and temporary files
    that no live report link points to. Returns the names removed."""
    live = set()
    for entry in out.iterdir():
        if entry.name.startswith(PREFIX) and entry.is_symlink():
            live.add(os.readlink(entry))
    removed = []
    for entry in sorted(out.iterdir()):
        if not _is_ours(entry.name) or entry.name in live:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry.name)
        log.info("removed %s left by an interrupted cost report run in %s", entry.name, out)
    return removed


def publish_set(out: Path, name: str, files: Mapping[str, str | bytes]) -> Path:
    """Make ``out/name`` a folder holding exactly ``files`` (file name -> content), all or nothing.

    Returns the path of the set (the link). Stale leftovers of interrupted runs are removed first.
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / name
    with _locked(out):
        remove_stale(out)
        token = secrets.token_hex(6)
        folder = out / f".{name}.{token}"
        folder.mkdir()
        for file_name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            with open(folder / file_name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(folder / file_name, 0o644)
        folder.chmod(0o755)
        _fsync_dir(folder)
        link = out / f".{name}.{token}.link"
        os.symlink(folder.name, link)
        previous = os.readlink(target) if target.is_symlink() else None
        if target.exists() and not target.is_symlink():
            # A real folder of that name (copied in by hand, or an older layout): move it aside
            # under a hidden name, so the switch below is still one rename.
            target.rename(out / f".{name}.{token}.replaced")
        os.replace(link, target)
        _fsync_dir(out)
        if previous and previous != folder.name:
            shutil.rmtree(out / previous, ignore_errors=True)
        remove_stale(out)
    return target
