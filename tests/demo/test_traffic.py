"""The demo's load generator: a Ctrl-C at any point of start-up leaves a clean stop."""

from __future__ import annotations

import threading
import time

import pytest

from inferwatch.demo.scenario import DEFAULT_SCENARIO
from inferwatch.demo.traffic import LoadGenerator, Timeline


def test_stop_after_a_signal_inside_start_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI caught this: SIGINT arrived between creating the generator's thread and starting it, and
    # the demo's clean-up died on "cannot join thread before it is started", leaving exit 1, not 130.
    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt

    generator = LoadGenerator(DEFAULT_SCENARIO, (), Timeline(time.time(), 60, 120))
    with monkeypatch.context() as m:
        m.setattr(threading.Thread, "start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            generator.start()
    generator.stop()


def test_stop_before_start_does_not_raise() -> None:
    LoadGenerator(DEFAULT_SCENARIO, (), Timeline(time.time(), 60, 120)).stop()
