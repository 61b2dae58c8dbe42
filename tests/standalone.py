"""What a user's clone is: a copy of this checkout with nothing beside it (no sibling folder of references).

`inferwatch build` must stand on its own there (issue 20): every schema its validators read ships
in the repository and in the package. The copy holds the working tree's versions of every file git
tracks or would track (so a test checks the code under test, committed or not) and links the
pinned tools of .tools.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def copy_checkout(dest: Path) -> Path:
    """The files of this checkout copied to ``dest`` (a new folder alone in its parent), .tools linked; ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in sorted(set(filter(None, listed.split("\0")))):
        source = REPO_ROOT / rel
        if rel == ".tools" or not source.is_file():  # the tools are linked below; deleted files stay away
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / rel)
    (dest / ".tools").symlink_to((REPO_ROOT / ".tools").resolve(), target_is_directory=True)
    beside = sorted(p.name for p in dest.parent.iterdir() if p != dest)
    assert not beside, f"{beside} lie beside {dest}: the copy would not stand alone"
    return dest


def package_layout(checkout: Path, dest: Path) -> Path:
    """A folder that, on PYTHONPATH, imports inferwatch from ``checkout``: setuptools' package-dir
    mapping laid out as symlinks (as scripts/typecheck.sh does for mypy); ``dest``."""
    mapping = tomllib.loads((checkout / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = dest / "inferwatch"
    package.mkdir(parents=True)
    for entry in (checkout / mapping["inferwatch"]).iterdir():
        (package / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "inferwatch":
            (package / name.removeprefix("inferwatch.")).symlink_to(checkout / folder, target_is_directory=True)
    return dest
