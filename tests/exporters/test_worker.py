"""PeriodicWorker: the cadence, failure isolation (logged once), and a clean stop."""

from __future__ import annotations

import logging
import threading

import pytest

from inferwatch.exporters.worker import PeriodicWorker, next_deadline
from inferwatch.localstack.processes import wait_for


def test_the_cadence_keeps_its_phase_after_a_slow_step() -> None:
    # A step that took 0.3 s of a 1 s interval: the next one is still on the k-second grid.
    assert next_deadline(10.0, 10.3, 1.0) == 11.0
    # A step that overran 2.5 intervals: the missed ticks are skipped, the phase is kept.
    assert next_deadline(10.0, 12.5, 1.0) == 13.0
    assert next_deadline(10.0, 13.0, 1.0) == 14.0
    # Interval 0: the step waits on its own, the next one starts at once.
    assert next_deadline(10.0, 10.7, 0.0) == 10.7


def test_a_failing_step_is_isolated_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    failing = threading.Event()
    failing.set()

    def step() -> None:
        calls.append(1)
        if failing.is_set():
            raise RuntimeError("NVML wedged")

    worker = PeriodicWorker("inferwatch-test-worker", step, interval_s=0.01)
    with caplog.at_level(logging.INFO, logger="inferwatch.exporters.worker"):
        worker.start()
        try:
            wait_for(lambda: len(calls) >= 5, "five failing steps")
            failing.clear()
            n = len(calls)
            wait_for(lambda: len(calls) >= n + 2, "steps after recovery")
        finally:
            worker.stop()
    failures = [r for r in caplog.records if "step failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert [r for r in caplog.records if "succeeds again" in r.getMessage()]
    assert not worker.running
    assert not [t for t in threading.enumerate() if t.name == "inferwatch-test-worker"]


def test_stop_ends_a_long_wait_at_once() -> None:
    steps: list[int] = []
    worker = PeriodicWorker("inferwatch-test-slow", lambda: steps.append(1), interval_s=3600)
    worker.start()
    assert worker.running
    worker.stop()  # does not wait an hour: the stop event ends the wait
    assert not worker.running and steps == []
    worker.stop()  # idempotent


def test_a_worker_started_twice_is_refused() -> None:
    worker = PeriodicWorker("inferwatch-test-twice", lambda: None, interval_s=3600)
    worker.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            worker.start()
    finally:
        worker.stop()


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        PeriodicWorker("x", lambda: None, interval_s=-1)


def test_a_signal_between_creating_and_starting_the_thread_leaves_stop_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C can land inside start(), after the thread object exists but before it runs; the
    # clean-up's stop() must then return instead of raising "cannot join thread before it is started".
    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt

    worker = PeriodicWorker("inferwatch-test-interrupted", lambda: None, interval_s=3600)
    with monkeypatch.context() as m:
        m.setattr(threading.Thread, "start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            worker.start()
    worker.stop()
    assert not worker.running
