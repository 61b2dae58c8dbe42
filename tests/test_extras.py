"""The optional extras (issue 23): a command whose extra is not installed says which one, exit 2, one line.

The exporter image installs inferwatch without extras. Here the extra's libraries are made
unimportable in a child interpreter (``sys.modules[name] = None``, as for a package that is not
installed); tests/test_wheel.py checks the same on a real install of the wheel without extras.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inferwatch.extras import EXTRAS


def _without(modules: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    sys.modules[name] = None\n"
        "from inferwatch.app.cli import main\n"
        f"sys.argv = ['inferwatch', *{argv!r}]\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("extra", "argv"),
    [
        ("report", ("cost", "report", "--week", "2026-W47")),
        ("report", ("cost", "report", "--help")),
        ("report", ("dashboards", "preview", "--prometheus", "http://127.0.0.1:9", "--out", "previews")),
        ("controller", ("controller", "run")),
    ],
)
def test_a_command_without_its_extra_names_the_extra_and_exits_2(extra: str, argv: tuple[str, ...]) -> None:
    proc = _without(EXTRAS[extra], *argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: `inferwatch ") and f"inferwatch[{extra}]" in line
    assert EXTRAS[extra][0] in line


def test_the_command_list_names_the_missing_extra_and_the_rest_still_works(tmp_path: Path) -> None:
    listed = _without(("matplotlib", "lightkube"), "--help")
    assert listed.returncode == 0, listed.stderr
    cost = next(line for line in listed.stdout.splitlines() if line.strip().startswith("cost "))
    assert "needs inferwatch[report]" in cost
    # what needs no extra runs as before: the CRD of the controller, the config check
    crd = _without(("matplotlib", "lightkube"), "controller", "crd")
    assert crd.returncode == 0 and "CustomResourceDefinition" in crd.stdout, crd.stderr
    checked = _without(("matplotlib", "lightkube"), "config", "check")
    assert checked.returncode == 0, checked.stderr


def test_extras_match_the_distribution() -> None:
    """inferwatch.extras names the extras and modules pyproject.toml declares (and the dev extra has them)."""
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    dependencies = " ".join(project["dependencies"]).lower()
    for extra, modules in EXTRAS.items():
        assert extra in optional
        for module in modules:
            assert any(req.lower().startswith(module) for req in optional[extra])
            assert any(req.lower().startswith(module) for req in optional["dev"])
            assert module not in dependencies, f"{module} is a main dependency again: the exporter image would carry it"
