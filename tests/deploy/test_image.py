"""The container images, built for real with buildah (deploy/build-image.sh) and run from the host.

Two images: the exporter image (inferwatch without extras: the DaemonSet, the sidecar in every vLLM
pod, the chart's test hook) and its fuller variant (`build-full`, tagged "-full":
inferwatch[report,controller] for the cost report's CronJob and the SLO controller).

The build is offline: deploy/build-image.sh prepare (run by `make image-prepare`, part of `make
test`) made the Debian base with mmdebstrap and the dependency wheelhouse; here inferwatch's wheel
is built from this checkout and the image from deploy/Containerfile. `buildah run` with chroot
isolation shares the host's network, so the exporter inside answers on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferwatch import __version__
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ProcessGroup, http_ok, wait_for
from inferwatch.tools import Toolbox
from tests.deploy.chart_support import helm_template, objects, one, pod_spec
from tests.support.exporter import scrape

# The module's image build and `buildah from` (a copy of the whole image on vfs) count against the first test.
pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]

TAG = "localhost/inferwatch:test"
FULL_TAG = f"{TAG}-full"
# Issue 23: the exporter image was 430 MB once matplotlib joined the main dependencies.
EXPORTER_IMAGE_MAX_MB = 250
REPO_ROOT = Path(__file__).resolve().parents[2]
STORAGE = Path(os.environ.get("BUILDAH_ROOT", REPO_ROOT / "build" / "image" / "storage"))
BUILDAH = ["buildah", "--root", str(STORAGE), "--runroot", str(STORAGE / "run"), "--storage-driver", "vfs"]


def _buildah(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _build(*args: str) -> None:
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "deploy" / "build-image.sh"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"image build failed:\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="module")
def image() -> str:
    """The exporter image built from this checkout (skipped, saying why, only where buildah cannot run)."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (scripts/install-tools.sh installs Debian's buildah)")
    probe = _buildah("images")
    if probe.returncode != 0:
        pytest.skip(f"buildah cannot run on this machine: {probe.stderr.strip()[-300:]}")
    _build("build", TAG)
    return TAG


@pytest.fixture(scope="module")
def full_image(image: str) -> str:
    """The fuller image (inferwatch[report,controller]) built from this checkout."""
    _build("build-full", FULL_TAG)
    return FULL_TAG


@contextlib.contextmanager
def _working_container(image: str) -> Iterator[str]:
    name = f"inferwatch-test-{uuid.uuid4().hex[:8]}"
    made = _buildah("from", "--name", name, image)
    assert made.returncode == 0, made.stderr
    try:
        yield name
    finally:
        _buildah("rm", name)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[str]:
    """One working container of the image for the module (on vfs each costs a full copy), removed afterwards."""
    with _working_container(image) as name:
        yield name


@pytest.fixture(scope="module")
def full_container(full_image: str) -> Iterator[str]:
    """One working container of the fuller image for the module."""
    with _working_container(full_image) as name:
        yield name


def _run(container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return _buildah("run", "--isolation", "chroot", container, "--", *argv)


@contextlib.contextmanager
def _serving(container: str, log: Path, *args: str, run_opts: tuple[str, ...] = (), port: int = 0) -> Iterator[str]:
    """The exporter serving from the image; with ``port`` the command line in ``args`` is taken whole."""
    if not port:
        port = free_port()
        args = ("inferwatch", "exporter", "run", "--host", "127.0.0.1", "--port", str(port), *args)
    argv = [*BUILDAH, "run", "--isolation", "chroot", *run_opts, container, "--", *args]
    with ProcessGroup(log.parent, grace_s=20) as group:
        mp = group.spawn("exporter in the image", argv, f"http://127.0.0.1:{port}", log_path=log, cwd=Path.cwd())
        wait_for(http_ok(mp.url + "/readyz"), "the exporter in the image to be ready", timeout=60, watch=[mp])
        yield mp.url


def test_image_runs_the_exporter_and_the_host_scrapes_it(container: str, tmp_path: Path) -> None:
    with _serving(container, tmp_path / "exporter.log", "--gpu-backend", "simulated", "--simulated-gpus", "3") as url:
        samples = scrape(url)
    assert len(samples["inferwatch_gpu_up"]) == 3
    ((labels, value),) = samples["inferwatch_exporter_info"]
    assert labels["gpu_backend"] == "simulated" and labels["version"] == __version__ and value == 1
    assert "SIMULATED" in (tmp_path / "exporter.log").read_text()


def _size_mb(image: str) -> float:
    """The image's size as buildah reports it (decimal units, as in "430 MB")."""
    (listed,) = json.loads(_buildah("images", "--json", image).stdout)
    number, unit = listed["size"].split()
    return float(number) * {"kB": 1e-3, "MB": 1.0, "GB": 1e3}[unit]


def test_exporter_image_is_small_and_leaves_the_extras_out(image: str, container: str) -> None:
    """The exporter image holds no matplotlib (nor numpy) or Kubernetes client and stays within its size."""
    assert _size_mb(image) <= EXPORTER_IMAGE_MAX_MB
    probe = "import importlib.util as u; print([m for m in ('matplotlib', 'numpy', 'lightkube') if u.find_spec(m)])"
    assert _run(container, "python", "-c", probe).stdout.strip() == "[]"
    # the report is one line away: which extra, exit 2, no traceback
    proc = _run(container, "inferwatch", "cost", "report", "--help")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "inferwatch[report]" in proc.stderr and "Traceback" not in proc.stderr
    controller = _run(container, "inferwatch", "controller", "run")
    assert controller.returncode == 2 and "inferwatch[controller]" in controller.stderr, controller.stderr


def test_full_image_runs_the_cost_report(full_container: str) -> None:
    proc = _run(full_container, "inferwatch", "cost", "report", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--webhook" in proc.stdout and "--week" in proc.stdout
    probe = "import importlib.util as u; print([m for m in ('matplotlib', 'lightkube') if u.find_spec(m)])"
    assert _run(full_container, "python", "-c", probe).stdout.strip() == "['matplotlib', 'lightkube']"


def test_image_refuses_a_machine_without_gpus_unless_simulated(container: str) -> None:
    # nvml is the default backend: without a GPU the exporter stops at once, saying why (exit 2).
    port = str(free_port())
    proc = _buildah(
        "run", "--isolation", "chroot", container, "--", "inferwatch", "exporter", "run", "--port", port, timeout=60
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "simulated" in proc.stderr


def test_image_is_non_root_without_build_tools(image: str, container: str) -> None:
    config = json.loads(_buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["inferwatch"]
    assert _run(container, "id", "-u").stdout.strip() == "65532"
    tools = _run(container, "sh", "-c", "for t in pip pip3 gcc cc make; do command -v $t; done; python -m pip")
    assert tools.stdout.strip() == "", f"build tools in the final image: {tools.stdout}"
    assert "No module named pip" in tools.stderr
    # the code is not writable by the user the pods run as
    probe = _run(container, "python", "-c", "open('/opt/inferwatch/probe', 'w')")
    assert probe.returncode != 0 and "Permission denied" in probe.stderr


def test_chart_containers_run_in_the_image(tools: Toolbox, container: str, full_container: str, tmp_path: Path) -> None:
    """The chart's own container specs (args, env, user, mounted inferwatch.yaml) work with the images.

    The DaemonSet's exporter (attribution on, no kubelet here: it serves and counts the failed
    kubelet reads) and the helm test hook's script against it in the exporter image; the CronJob's
    report command, which the chart points at the fuller image, against a Prometheus that is not
    there (exit 3, naming it).
    """
    port, closed = free_port(), free_port()
    rendered = objects(
        helm_template(
            tools,
            "--set", "inferwatch.exporter.gpu_backend=simulated",
            "--set", "inferwatch.exporter.listen_host=127.0.0.1",
            "--set", f"inferwatch.exporter.port={port}",
            "--set", f"costReport.prometheusUrl=http://127.0.0.1:{closed}",
        )
    )  # fmt: skip
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "inferwatch.yaml").write_text(one(rendered, "ConfigMap", "-config")["data"]["inferwatch.yaml"])
    config_dir.chmod(0o755)
    (config_dir / "inferwatch.yaml").chmod(0o644)
    mount = ("--volume", f"{config_dir}:/etc/inferwatch:ro")

    def opts(obj: dict[str, Any], c: dict[str, Any]) -> tuple[str, ...]:
        # the pod's user and the container's plain env, as the kubelet would give them
        sc = pod_spec(obj)["securityContext"]
        env = [f"{e['name']}={e['value']}" for e in c.get("env", []) if "value" in e]
        return (*mount, "--user", f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}",
                *[x for pair in env for x in ("--env", pair)])  # fmt: skip

    ds = one(rendered, "DaemonSet")
    (exporter,) = pod_spec(ds)["containers"]
    log = tmp_path / "daemonset.log"
    with _serving(container, log, "inferwatch", *exporter["args"], run_opts=opts(ds, exporter), port=port) as url:
        samples = scrape(url)
        assert len(samples["inferwatch_gpu_up"]) == 2
        assert samples["inferwatch_podresources_up"] == [({}, 0.0)]
        hook = one(rendered, "Pod", "-test-metrics")
        (scraper,) = hook["spec"]["containers"]
        checked = _buildah(
            "run", "--isolation", "chroot", *opts(hook, scraper), container, "--",
            *scraper["command"][:-1], f"{url}/metrics",
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
    cron = one(rendered, "CronJob")
    (report,) = pod_spec(cron)["containers"]
    assert report["image"].endswith("-full") and not exporter["image"].endswith("-full")
    out = report["args"][report["args"].index("--out") + 1]
    assert out == "/reports"
    args = [a if a != out else "/tmp/cost-reports" for a in report["args"]]  # the PVC is not here
    ran = _buildah("run", "--isolation", "chroot", *opts(cron, report), full_container, "--", "inferwatch", *args)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert f"127.0.0.1:{closed}" in ran.stderr
