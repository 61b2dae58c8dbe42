"""The distribution works outside the repository: the wheel, installed into a clean virtualenv.

The wheel is built from this checkout with `python -m build` (no isolation, so no network), and
installed with its dependencies from the wheelhouse `deploy/build-image.sh prepare` collected
(`make image-prepare`, part of `make test`), so the test needs no network either. The last test
checks a clone with the installed CLI, every validator included: the reference schemas come from
the wheel itself.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferwatch import __version__
from tests.standalone import copy_checkout

REPO_ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO_ROOT / "build" / "image" / "wheelhouse"
# setuptools package-dir: where each source folder lands inside the wheel.
PACKAGE_DIRS = {
    "inferwatch": "inferwatch",
    "exporters": "inferwatch/exporters",
    "dashboards": "inferwatch/dashboards",
    "alerts": "inferwatch/alerts",
    "slo": "inferwatch/slo",
    "workloads": "inferwatch/workloads",
}


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """inferwatch's wheel, built from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    proc = _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check", "--outdir", str(out),
         str(REPO_ROOT)],
        cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = out.glob("inferwatch-*.whl")
    assert built.name.startswith(f"inferwatch-{__version__}-")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the wheel and its dependencies installed (no access to the checkout)."""
    if not list(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run `make image-prepare` (deploy/build-image.sh prepare)")
    root = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", str(root)], cwd=root)
    assert made.returncode == 0, made.stderr
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE)]
    installed = _run([*pip, str(wheel)], cwd=root)
    hint = "\n(a dependency missing from the wheelhouse? run `make image-prepare`)"
    assert installed.returncode == 0, installed.stdout + installed.stderr + hint
    return root


def test_wheel_carries_every_data_file_of_the_packages(wheel: Path) -> None:
    tracked = _run(["git", "ls-files", *PACKAGE_DIRS], cwd=REPO_ROOT).stdout.split()
    data = [p for p in tracked if not p.endswith(".py")]
    assert "inferwatch/py.typed" in data
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in data:
        top, _, rest = path.partition("/")
        assert f"{PACKAGE_DIRS[top]}/{rest}" in names, f"{path} is not in the wheel (pyproject package-data?)"


def test_installed_package_runs_outside_the_repository(venv: Path, tmp_path: Path) -> None:
    exe = str(venv / "bin" / "inferwatch")
    version = _run([exe, "--version"], cwd=tmp_path)
    assert version.returncode == 0 and __version__ in version.stdout, version.stderr
    where = _run([str(venv / "bin" / "python"), "-c", "import inferwatch.slo, sys; print(inferwatch.slo.__file__)"],
                 cwd=tmp_path)  # fmt: skip
    assert str(venv) in where.stdout and str(REPO_ROOT) not in where.stdout
    checked = _run([exe, "-c", str(REPO_ROOT / "examples" / "inferwatch.yaml"), "config", "check"], cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    for group in (["exporter", "run"], ["cost", "report"], ["slo"], ["rules"]):
        helped = _run([exe, *group, "--help"], cwd=tmp_path)
        assert helped.returncode == 0, f"{group}: {helped.stderr}"


def test_installed_package_generates_what_the_repository_commits(venv: Path, tmp_path: Path) -> None:
    # Every generator, its templates and data included, produces the committed files from the
    # example config: the runbooks, rules, chart values and schema a user regenerates with their own.
    out = tmp_path / "out"
    # the config at the same relative path as in the checkout: generated headers name it
    (tmp_path / "examples").mkdir()
    shutil.copy(REPO_ROOT / "examples" / "inferwatch.yaml", tmp_path / "examples" / "inferwatch.yaml")
    argv = [str(venv / "bin" / "inferwatch"), "-c", "examples/inferwatch.yaml", "build", "--no-validate"]
    built = _run([*argv, "--out", "out"], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.match("docs/runbooks/*.md") for p in files)
    assert (out / "deploy/helm/inferwatch/values.schema.json").is_file()
    for path in files:
        rel = path.relative_to(out)
        assert path.read_text() == (REPO_ROOT / rel).read_text(), f"{rel} differs when generated by the installed wheel"


@pytest.fixture
def validator_libraries(venv: Path) -> Iterator[Path]:
    """The wheel's virtualenv, with the libraries of the validators borrowed for one test.

    jsonschema and kubernetes-validate (108 MB of Kubernetes schemas) are development extras, in no
    wheelhouse; they come from this test run's own site-packages, appended after the wheel's (so
    inferwatch and its dependencies still load from the wheel) and taken away after the test.
    """
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    borrowed = purelib / "zz-borrowed-validator-libraries.pth"
    borrowed.write_text(
        "".join(f"{p}\n" for p in dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]]))
    )
    try:
        yield venv
    finally:
        borrowed.unlink()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_installed_wheel_checks_a_clone_with_every_validator(validator_libraries: Path, tmp_path: Path) -> None:
    """`inferwatch build --check` from the wheel in a clone with nothing beside it: the CRDs and the
    Grafana schema the validators need are the wheel's own package data."""
    clone = copy_checkout(tmp_path / "clone" / "inferwatch")
    python = str(validator_libraries / "bin" / "python")
    # -P: not the working directory first, where the clone's inferwatch/ folder would shadow the wheel.
    code = "import inferwatch.reference as r, inferwatch.dashboards.lint as l; print(r.REFERENCE_DIR, l.__file__)"
    where = _run([python, "-P", "-c", code], cwd=clone).stdout.split()
    assert len(where) == 2 and all(Path(w).is_relative_to(validator_libraries) for w in where), where
    exe = str(validator_libraries / "bin" / "inferwatch")
    checked = _run([exe, "-c", "examples/inferwatch.yaml", "build", "--check"], cwd=clone, timeout=840)
    assert checked.returncode == 0, checked.stderr[-4000:]
    assert "artifact(s) up to date" in checked.stdout
    for tool in ("kubeconform", "jsonschema", "helm lint", "links"):
        assert tool in checked.stderr, tool
