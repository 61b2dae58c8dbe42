"""`inferwatch build --check` in a clone with nothing beside it: the repository stands on its own.

The clone's own code runs (its package laid out on PYTHONPATH, the way an editable install maps
it), with the clone's chart templates, docs and bundled reference schemas, and the real validators.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.standalone import copy_checkout, package_layout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_build_check_passes_in_a_clone_with_no_shared_folder(tmp_path: Path) -> None:
    clone = copy_checkout(tmp_path / "clone" / "inferwatch")
    env = {**os.environ, "PYTHONPATH": str(package_layout(clone, tmp_path / "layout"))}

    def inferwatch(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "inferwatch", *args]
        return subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=840, check=False)

    # -P: not the working directory first, where the clone's inferwatch/ folder holds only the core.
    code = "import inferwatch.reference as r, inferwatch.dashboards.lint as l; print(r.REFERENCE_DIR, l.__file__)"
    where = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=clone, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [Path(w).resolve() for w in where] == [
        clone / "inferwatch" / "app" / "validate" / "schemas",
        clone / "dashboards" / "lint.py",
    ]
    checked = inferwatch("-c", "examples/inferwatch.yaml", "build", "--check")
    assert checked.returncode == 0, checked.stderr[-4000:]
    assert "artifact(s) up to date" in checked.stdout
    for tool in ("kubeconform", "jsonschema", "helm lint", "links"):
        assert tool in checked.stderr, tool
    assert "FAILED" not in checked.stderr
