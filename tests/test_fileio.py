"""Atomic writes: all or nothing, never half a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.fileio import write_all_atomic, write_atomic


def test_write_atomic_replaces(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "f.txt"
    write_atomic(p, "one")
    write_atomic(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["f.txt"]


def test_write_all_atomic_keeps_old_files_on_error(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("old")

    files: dict[Path, str | bytes] = {a: "new", tmp_path / "b.txt": object()}  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        write_all_atomic(files)
    assert a.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]
