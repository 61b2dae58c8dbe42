"""The report set is replaced all or nothing, even when the writer is SIGKILLed at any instant."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from inferwatch.slo.cost.publish import publish_set, remove_stale

NAME = "cost-report-2026-W46"
FILES = ("cost-report-2026-W46.html", "cost-report-2026-W46.md", "cost-report-2026-W46.csv")


def _versions(folder: Path) -> set[str]:
    """The version line each file of a set starts with."""
    return {(folder / f).read_text().split("\n", 1)[0] for f in FILES}


def test_publish_replaces_the_set_and_leaves_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = publish_set(out, NAME, {f: f"v1\n{f}" for f in FILES})
    assert first == out / NAME and _versions(first) == {"v1"}
    publish_set(out, NAME, {f: f"v2\n{f}" for f in FILES})
    assert _versions(out / NAME) == {"v2"} and sorted(p.name for p in (out / NAME).iterdir()) == sorted(FILES)
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".cost-report.lock"]
    assert len(hidden) == 1 and (out / NAME).resolve().name == hidden[0]  # only the live folder


def test_stale_leftovers_are_removed_on_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_set(out, NAME, {f: "v1\n" for f in FILES})
    (out / f".{NAME}.deadbeef").mkdir()
    (out / f".{NAME}.deadbeef" / FILES[0]).write_text("half")
    (out / f".{NAME}.cafe.link").symlink_to(f".{NAME}.deadbeef")
    (out / f".{NAME}.html.x1y2.tmp").write_text("old-style temp")
    (out / "keep-me.txt").write_text("not ours")
    removed = remove_stale(out)
    assert sorted(removed) == sorted([f".{NAME}.deadbeef", f".{NAME}.cafe.link", f".{NAME}.html.x1y2.tmp"])
    assert (out / "keep-me.txt").exists() and _versions(out / NAME) == {"v1"}


def test_a_real_folder_of_that_name_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / NAME).mkdir(parents=True)
    (out / NAME / "old.txt").write_text("old layout")
    publish_set(out, NAME, {f: "v1\n" for f in FILES})
    assert sorted(p.name for p in (out / NAME).iterdir()) == sorted(FILES)


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from inferwatch.slo.cost.publish import publish_set

    out, name = Path(sys.argv[1]), sys.argv[2]
    files = sys.argv[3:]
    body = "x" * 2_000_000
    for version in range(1, 10_000):
        publish_set(out, name, {f: f"v{version}\\n{body}" for f in files})
        print(version, flush=True)
    """
)


def test_sigkill_at_any_point_leaves_the_old_set_or_the_new_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_set(out, NAME, {f: "v0\n" for f in FILES})
    rng = random.Random(46)
    for _ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(out), NAME, *FILES],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # one set published: the writer is in its loop now
        time.sleep(rng.random() * 0.2)  # then somewhere inside a later write, rename or clean-up
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # A reader sees one complete set of one version, never a mix and never a missing file.
        assert (out / NAME).is_dir(), os.listdir(out)
        assert sorted(p.name for p in (out / NAME).iterdir()) == sorted(FILES)
        assert len(_versions(out / NAME)) == 1, _versions(out / NAME)
    # The next run removes whatever the killed runs left behind.
    publish_set(out, NAME, {f: "final\n" for f in FILES})
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(f".{NAME}")]
    assert leftovers == [os.readlink(out / NAME)] and _versions(out / NAME) == {"final"}
