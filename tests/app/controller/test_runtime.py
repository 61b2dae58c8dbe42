"""The work queue, and the runtime's keys over 1,000 InferenceSLOs with bad ones and failures among them."""

from __future__ import annotations

from inferwatch.app.controller.reconciler import Reconciler, Retry
from inferwatch.app.controller.runtime import Runtime, RuntimeSettings, WorkQueue
from inferwatch.config import InferwatchConfig
from tests.app.controller.fakes import FakeCluster, FakePrometheus, buckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_queue_dedupes_serializes_and_backs_off() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.add("a")
    q.add("a")
    q.add("b")
    assert q.get(0) == "a"
    q.add("a")  # changed while being worked on: queued again once done, never twice at once
    assert q.get(0) == "b"
    assert q.get(0) is None
    q.done("a")
    assert q.get(0) == "a"
    q.done("a", retry=True)  # back-off: 1 s after the first failure
    assert q.get(0) is None
    clock.now = 1.01
    assert q.get(0) == "a"
    q.done("a", retry=True)  # 2 s after the second
    clock.now = 2.5
    assert q.get(0) is None
    clock.now = 3.1
    assert q.get(0) == "a"


def drain(runtime: Runtime) -> dict[str, int]:
    """Run every queued key to the end, as the workers would; counts of outcomes."""
    outcome = {"ok": 0, "retry": 0}
    while (key := runtime.queue.get(0)) is not None:
        try:
            runtime.handle(key)
            runtime.queue.done(key)
            outcome["ok"] += 1
        except Retry:
            runtime.queue.done(key, retry=False)
            outcome["retry"] += 1
    return outcome


def test_a_thousand_slos_at_once_with_bad_ones_among_them() -> None:
    cluster = FakeCluster()
    prom = FakePrometheus(buckets(0.5, 1.0, 2.5))
    rec = Reconciler(cluster, prom, InferwatchConfig())
    for i in range(1000):
        threshold = 2.4 if i % 100 == 7 else 2.5  # ten thresholds off the buckets
        spec = {"objective": 99, "window": "7d", "sli": {"kind": "ttft", "threshold_seconds": threshold}}
        cluster.add_slo(f"team-{i % 10}", f"slo-{i}", spec)
    cluster.fail_apply.add("team-3/inferenceslo-slo-13")  # the API server refuses one object
    runtime = Runtime(rec, cluster, RuntimeSettings())
    objs, _ = cluster.list_slos(None)
    for key in rec.replace_all(objs):
        runtime.queue.add(f"slo:{key}")
    drain(runtime)
    assert len(cluster.rules) == 1000 - 10 - 1
    refused = [k for k in cluster.slos if cluster.ready(k)["status"] == "False"]
    assert len(refused) == 11
    assert cluster.ready("team-3/slo-13")["reason"] == "ApplyFailed"
    # The buckets of one histogram per namespace are asked once, not once per SLO.
    assert sum(q.startswith("count by (le)") for q in prom.queries) == 10


def test_an_api_server_that_goes_away_mid_run_delays_only_the_keys_it_failed() -> None:
    cluster = FakeCluster()
    rec = Reconciler(cluster, FakePrometheus(buckets(2.5)), InferwatchConfig())
    spec = {"objective": 99, "window": "7d", "sli": {"kind": "ttft", "threshold_seconds": 2.5}}
    for i in range(20):
        cluster.add_slo("team", f"s{i}", spec)
    runtime = Runtime(rec, cluster, RuntimeSettings())
    for key in rec.replace_all(cluster.list_slos(None)[0]):
        runtime.queue.add(f"slo:{key}")
    for _ in range(10):
        key = runtime.queue.get(0)
        assert key is not None
        runtime.handle(key)
        runtime.queue.done(key)
    cluster.down = True
    outcome = drain(runtime)
    assert outcome["retry"] == 10 and len(cluster.rules) == 10
    cluster.down = False
    for key in rec.known():
        runtime.queue.add(f"slo:{key}")
    drain(runtime)
    assert len(cluster.rules) == 20
