"""One periodic background worker: the exporter's samplers, scrapers, watchers, pusher and renderer.

A `PeriodicWorker` runs `step()` on a named daemon thread every `interval_s`, on a cadence fixed
at start (`start + k × interval`): a slow step does not push every later one back, and ticks a
step overran are skipped rather than run back to back. An exception from `step()` never ends
the thread; it is logged once (with its traceback) until the step succeeds again or fails
differently, so a persistent fault writes one line, not one per tick. `stop()` sets the stop
event (ending the wait for the next tick at once) and joins the thread; a step that blocks on its
own (the NVML event wait) bounds its own wait.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def next_deadline(previous: float, now: float, interval_s: float) -> float:
    """The first tick of the cadence `previous + k × interval_s` (k ≥ 1) that is later than `now`.

    With `interval_s` 0 the step runs again at once (for steps that block on their own, such as
    a wait for NVML events).
    """
    if interval_s <= 0:
        return now
    deadline = previous + interval_s
    if deadline <= now:  # the step overran one or more ticks: skip them, keep the phase
        deadline += math.floor((now - deadline) / interval_s + 1) * interval_s
    return deadline


class PeriodicWorker:
    """Calls `step()` on a background thread every `interval_s` seconds (see the module docstring)."""

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        *,
        interval_s: float,
        join_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`name` names the thread and the log lines; `interval_s` 0 runs `step` back to back."""
        if interval_s < 0 or math.isnan(interval_s):
            raise ValueError(f"{name}: interval_s must be >= 0")
        self.name = name
        self.interval_s = interval_s
        self._step = step
        self._join_timeout = join_timeout_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: str | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; the first step runs one interval from now."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and wait for it (up to the join timeout; a step stuck longer is logged)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None or not thread.is_alive():  # never started (a signal came first) or already ended
            return
        thread.join(timeout=self._join_timeout)
        if thread.is_alive():
            log.warning(
                "worker %s did not stop within %.1fs; left to end with the process", self.name, self._join_timeout
            )

    def run_step(self) -> bool:
        """Run `step()` once, isolating and logging its failure; True when it succeeded."""
        try:
            self._step()
        except Exception as err:  # a bug must not end the worker: log it (once) and go on
            failure = f"{type(err).__name__}: {err}"
            if failure != self._failure:
                log.exception("worker %s: step failed (logged once until it changes or recovers)", self.name)
            self._failure = failure
            return False
        if self._failure is not None:
            log.info("worker %s: step succeeds again", self.name)
            self._failure = None
        return True

    def _run(self) -> None:
        deadline = self._clock() + self.interval_s
        while not self._stop.wait(max(0.0, deadline - self._clock())):
            self.run_step()
            deadline = next_deadline(deadline, self._clock(), self.interval_s)
