"""Shared fixtures: the toolchain and real processes, always stopped at the end of a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inferwatch.tools import Toolbox
from tests.support.processes import (
    RunningProcess,
    start_alertmanager,
    start_inference_sim,
    start_prometheus,
)

# Shared fixtures that live in tests/support (a plugin module, so every test module sees them).
pytest_plugins = ["tests.support.misbehaving"]

REPO_ROOT = Path(__file__).resolve().parent.parent


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


Starter = Callable[..., RunningProcess]


def _process_factory(start: Callable[..., RunningProcess], tools: Toolbox) -> Iterator[Starter]:
    started: list[RunningProcess] = []

    def factory(*args: Any, **kwargs: Any) -> RunningProcess:
        rp = start(tools, *args, **kwargs)
        started.append(rp)
        return rp

    try:
        yield factory
    finally:
        for rp in reversed(started):
            rp.stop()


@pytest.fixture
def prometheus_factory(tools: Toolbox) -> Iterator[Starter]:
    """``prometheus_factory(config_file, workdir, storage=?, extra_args=?)`` starts a real Prometheus 3."""
    yield from _process_factory(start_prometheus, tools)


@pytest.fixture
def alertmanager_factory(tools: Toolbox) -> Iterator[Starter]:
    """``alertmanager_factory(config_file, workdir)`` starts a real Alertmanager."""
    yield from _process_factory(start_alertmanager, tools)


@pytest.fixture
def inference_sim_factory(tools: Toolbox) -> Iterator[Starter]:
    """``inference_sim_factory(workdir, model=?, extra_args=?)`` starts a real llm-d-inference-sim."""
    yield from _process_factory(start_inference_sim, tools)
