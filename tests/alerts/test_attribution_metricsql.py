"""The allocation rule on VictoriaMetrics: the kubelet's answer wins per GPU at every point of a range.

MetricsQL evaluates `or` and `unless` point by point over a range query, which is how vmalert
replays rules: a rule written `kubelet or on (gpu_uuid) sidecar` would fill a gap of one pod's
kubelet series with another pod's sidecar claim on the same GPU. Here a time-sliced GPU has one
holder all along and a second one only in the second hour, whose sidecar claims the GPU all along;
the recorded allocation must be what Prometheus gives at each instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.conventions import normalized as n
from inferwatch.localstack.backfill import Series
from inferwatch.rules import RecordingRule
from inferwatch.tools import Toolbox
from tests.slo.scale.victoriametrics import VictoriaMetricsHistory
from tests.support.series import gauge_points

STEP = 60.0
END = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
START = END - timedelta(hours=2)
SWITCH = (START + timedelta(hours=1)).timestamp()  # pod t2 gets its kubelet attribution from here on
NODE = {"job": "inferwatch-exporter", "instance": "10.0.0.9:9400"}


def _allocation(gpu: str, owner: str, source: str, ratio: float, since: float = 0.0) -> Series:
    labels = {"gpu_uuid": gpu, "namespace": f"ns-{owner}", "pod": f"pod-{owner}", "container": "vllm"}
    target = NODE if source == "kubelet" else {"job": "inferwatch-sidecars", "instance": f"10.0.1.{len(owner)}:9400"}
    points = gauge_points(lambda t: ratio if t >= since else None, START.timestamp(), END.timestamp(), STEP)
    return Series("inferwatch_gpu_allocation_ratio", {**labels, "source": source, **target}, points)


def _history() -> list[Series]:
    claims = [_allocation(g, owner, "sidecar", 1.0) for g in ("GPU-a", "GPU-b", "GPU-g") for owner in ("a", "b")]
    free = gauge_points(lambda t: 1.0, START.timestamp(), END.timestamp(), STEP)
    return [
        # A shared node: the kubelet gives GPU-a to pod a and GPU-b to pod b; both sidecars claim
        # both GPUs and GPU-g, which the kubelet allocates to nobody.
        _allocation("GPU-a", "a", "kubelet", 1.0),
        _allocation("GPU-b", "b", "kubelet", 1.0),
        *claims,
        Series("inferwatch_podresources_gpu_info", {"gpu_uuid": "GPU-g", **NODE}, free),
        # Time-sliced GPU-t: pod t1 holds half all along, pod t2 the other half from SWITCH on.
        _allocation("GPU-t", "t1", "kubelet", 0.5),
        _allocation("GPU-t", "t2", "kubelet", 0.5, since=SWITCH),
        _allocation("GPU-t", "t2", "sidecar", 1.0),
        # GPU-c, allocated through DRA: only its pod's sidecar knows it.
        _allocation("GPU-c", "c", "sidecar", 1.0),
    ]


def _expected(t: float) -> dict[tuple[str, str], float]:
    held = {("GPU-a", "pod-a"): 1.0, ("GPU-b", "pod-b"): 1.0, ("GPU-c", "pod-c"): 1.0, ("GPU-t", "pod-t1"): 0.5}
    if t >= SWITCH:
        held[("GPU-t", "pod-t2")] = 0.5
    return held


@pytest.fixture(scope="module")
def victoriametrics(tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsHistory]:
    """VictoriaMetrics holding the two-hour history."""
    vm = VictoriaMetricsHistory(tools, tmp_path_factory.mktemp("vm-attribution"))
    try:
        vm.add_raw(_history())
        yield vm
    finally:
        vm.stop()


def test_the_kubelets_attribution_wins_at_every_point_on_victoriametrics(
    victoriametrics: VictoriaMetricsHistory, tmp_path: Path
) -> None:
    (rule,) = (
        r
        for g in normalization_groups()
        for r in g.rules
        if isinstance(r, RecordingRule) and r.record == n.GPU_ALLOCATION
    )
    r = httpx.get(
        f"{victoriametrics.url}/api/v1/query_range",
        params={"query": rule.expr, "start": START.timestamp(), "end": END.timestamp(), "step": f"{STEP:g}s"},
        timeout=60,
    )
    r.raise_for_status()
    got: dict[float, dict[tuple[str, str], float]] = {}
    for s in r.json()["data"]["result"]:
        key = (s["metric"]["gpu_uuid"], s["metric"]["pod"])
        for t, v in s["values"]:
            got.setdefault(float(t), {})[key] = float(v)
    assert got, r.text
    wrong = {t: (held, _expected(t)) for t, held in sorted(got.items()) if held != _expected(t)}
    assert not wrong, wrong
    # Every step of the range has its answer (a missing step would hide a wrong one).
    assert len(got) == round((END - START).total_seconds() / STEP) + 1
