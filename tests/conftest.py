"""Shared fixtures: the toolchain and real processes, always stopped at the end of a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from inferwatch.localstack import launchers
from inferwatch.localstack.launchers import DEFAULT_SIM_MODEL
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup
from inferwatch.tools import Toolbox

# Shared fixtures that live in tests/support (a plugin module, so every test module sees them).
pytest_plugins = ["tests.support.misbehaving"]

REPO_ROOT = Path(__file__).resolve().parent.parent

# The longest files (pytest --durations: the demo's story ~11 min, the restart test ~11 min, the
# cost report's backfilled week ~8 min), longest first. `make test` runs files on three workers in
# collection order (--dist loadfile --no-loadscope-reorder); these come first, so each starts at
# once on a worker of its own and the short files fill the others, instead of one of them starting
# last and the run waiting on it alone.
STARTED_FIRST = (
    "tests/demo/test_demo_up.py",
    "tests/slo/test_restart_e2e.py",
    "tests/slo/cost/test_report_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collection order with the files of `STARTED_FIRST` first (a stable sort: the rest keep theirs)."""
    rank = {path: i for i, path in enumerate(STARTED_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout the tests run from."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def tools() -> Toolbox:
    """The pinned toolchain in .tools/bin; fails (not skips) when it was not installed."""
    box = Toolbox.default(REPO_ROOT / ".tools" / "bin")
    missing = [
        t for t in ("prometheus", "promtool", "amtool", "alertmanager", "helm", "kubeconform") if not box.find(t)
    ]
    if missing:
        pytest.fail(f"toolchain missing {missing}: run scripts/install-tools.sh first")
    return box


Starter = Callable[..., ManagedProcess]


@pytest.fixture
def process_group(tmp_path: Path) -> Iterator[ProcessGroup]:
    """A process group of the local stack for the test; every process in it is stopped at the end."""
    with ProcessGroup(tmp_path / "logs", grace_s=10) as group:
        yield group


@pytest.fixture
def prometheus_factory(tools: Toolbox, process_group: ProcessGroup) -> Starter:
    """``prometheus_factory(config_file, workdir, storage=?, extra_args=?)`` starts a real Prometheus 3."""

    def start(
        config_file: Path, workdir: Path, *, storage: Path | None = None, extra_args: Sequence[str] = ()
    ) -> ManagedProcess:
        return launchers.start_prometheus(
            process_group, tools, config_file, storage or workdir / "data", extra_args=extra_args,
            cwd=workdir, log_path=workdir / "prometheus.log",
        )  # fmt: skip

    return start


@pytest.fixture
def alertmanager_factory(tools: Toolbox, process_group: ProcessGroup) -> Starter:
    """``alertmanager_factory(config_file, workdir)`` starts a real Alertmanager."""

    def start(config_file: Path, workdir: Path) -> ManagedProcess:
        return launchers.start_alertmanager(
            process_group, tools, config_file, workdir / "am-data", cwd=workdir, log_path=workdir / "alertmanager.log"
        )

    return start


@pytest.fixture
def inference_sim_factory(tools: Toolbox, process_group: ProcessGroup) -> Starter:
    """``inference_sim_factory(workdir, model=?, extra_args=?, port=?)`` starts a real llm-d-inference-sim."""

    def start(
        workdir: Path, *, model: str = DEFAULT_SIM_MODEL, extra_args: Sequence[str] = (), port: int | None = None
    ) -> ManagedProcess:
        return launchers.start_inference_sim(
            process_group, tools, model=model, extra_args=extra_args, port=port, cwd=workdir,
            log_path=workdir / "llm-d-inference-sim.log",
        )  # fmt: skip

    return start
