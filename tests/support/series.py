"""Test data builders for backfilled histories: counters and gauges sampled on a grid.

The series go to `inferwatch.localstack.backfilled.BackfilledPrometheus` (as `Series` points);
the exact increase of a counter between two sample times is known to the test.
"""

from __future__ import annotations

from collections.abc import Callable


def counter_points(
    rate: Callable[[float], float], start: float, end: float, step: float, initial: float = 0.0
) -> list[tuple[float, float]]:
    """A cumulative counter sampled every ``step`` s whose increase over each step is ``rate(t) * step``.

    ``rate(t)`` is evaluated at the start of each step, so the exact increase between two
    sample times is known to the test (sum of rate(t_i) * step).
    """
    points = [(start, initial)]
    value = initial
    t = start
    while t + step <= end + 1e-9:
        value += rate(t) * step
        t += step
        points.append((t, value))
    return points


def gauge_points(
    value: Callable[[float], float | None], start: float, end: float, step: float
) -> list[tuple[float, float]]:
    """A gauge sampled every ``step`` s; a ``None`` value leaves a gap (target absent)."""
    points: list[tuple[float, float]] = []
    t = start
    while t <= end + 1e-9:
        v = value(t)
        if v is not None:
            points.append((t, v))
        t += step
    return points


def constant(value: float) -> Callable[[float], float]:
    """A rate or gauge that is ``value`` at every time (typed, unlike a lambda binding a loop variable)."""
    return lambda _t: value
