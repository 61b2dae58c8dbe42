"""Multiwindow, multi-burn-rate alert windows as data, scaled to the SLO window.

From the Google SRE workbook, "Alerting on SLOs" (table 5-8), as Sloth ships it in
`internal/alert/windows/google-30d.yaml`: for a 30-day SLO, page when 2 % of the budget burns
in 1 h (14.4x, confirmed over 5 m) or 5 % in 6 h (6x, over 30 m); open a ticket when 10 % burns
in 1 d (3x, over 2 h) or 10 % in 3 d (1x, over 6 h). For 28-day and 7-day SLOs every window
scales by window/30d, so each alert still means the same share of the budget and the same
burn-rate factor; no window is shorter than the 5-minute rate the SLI is recorded on.

The 5-minute window reads the SLI's 5-minute rates; every longer window is increase() over
checkpoints of the pods' counters: windows shorter than `COARSE_FROM` over the checkpoints taken
every `FINE_STEP`, windows of a day and longer over those taken every `COARSE_STEP`, so a
30-day window reads 720 samples per pod instead of 43,200 (see docs/slo.md, "Windows that
survive a Prometheus outage").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Severity = Literal["page", "ticket"]

MIN_WINDOW = timedelta(minutes=5)
REFERENCE_PERIOD = timedelta(days=30)
# The checkpoint group runs every CHECKPOINT_INTERVAL: it records the pods' counters at every run
# (the fine checkpoints, one every FINE_STEP, and a pod's last value after it is gone) and, from
# them, one every COARSE_STEP (plus one wherever a counter starts, ends or resets). Windows from
# COARSE_FROM up read the coarse checkpoints, and are summed by the long-window group every
# LONG_WINDOWS_INTERVAL; shorter ones read the fine checkpoints.
CHECKPOINT_INTERVAL = timedelta(minutes=5)
FINE_STEP = CHECKPOINT_INTERVAL
# The normalized counters the checkpoints read are recorded every COUNTER_INTERVAL, so a checkpoint
# holds a counter at most that (and a scrape) older than itself.
COUNTER_INTERVAL = timedelta(minutes=1)
COARSE_STEP = timedelta(hours=1)
COARSE_FROM = timedelta(days=1)
LONG_WINDOWS_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class BurnRateWindow:
    """One alert condition: burn rate above ``factor`` over both ``long`` and ``short``."""

    severity: Severity
    factor: float
    long: timedelta
    short: timedelta


# Google SRE workbook windows for a 30-day SLO (Sloth google-30d).
GOOGLE_30D: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
    BurnRateWindow("page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
    BurnRateWindow("ticket", 3.0, timedelta(days=1), timedelta(hours=2)),
    BurnRateWindow("ticket", 1.0, timedelta(days=3), timedelta(hours=6)),
)


def parse_duration(text: str) -> timedelta:
    """A `30d` / `28d` / `7d` / `6h` / `5m` duration (one unit) as a timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"unsupported duration {text!r}; use a whole number of d, h, m or s")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def format_duration(d: timedelta) -> str:
    """A Prometheus duration string (`1h`, `5h36m`, `3d`), exact to the minute."""
    minutes = int(d.total_seconds() // 60)
    if minutes * 60 != int(d.total_seconds()):
        raise ValueError(f"{d} is not a whole number of minutes")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    out = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return out or "0m"


def _scale(d: timedelta, period: timedelta) -> timedelta:
    minutes = round(d.total_seconds() * (period / REFERENCE_PERIOD) / 60)
    return max(timedelta(minutes=minutes), MIN_WINDOW)


def windows_for(period: timedelta) -> tuple[BurnRateWindow, ...]:
    """The burn-rate alert windows for an SLO over ``period`` (scaled from GOOGLE_30D)."""
    return tuple(
        BurnRateWindow(w.severity, w.factor, _scale(w.long, period), _scale(w.short, period)) for w in GOOGLE_30D
    )


def recorded_windows(period: timedelta) -> tuple[timedelta, ...]:
    """Every window a burn rate is recorded on: the alert windows and the SLO window, shortest first."""
    ws = {period}
    for w in windows_for(period):
        ws.update((w.long, w.short))
    return tuple(sorted(ws))


def is_coarse(window: timedelta) -> bool:
    """Whether a burn rate over ``window`` reads the coarse checkpoints (summed by the long-window group)."""
    return window >= COARSE_FROM


def coverage_windows(period: timedelta) -> tuple[timedelta, ...]:
    """Windows whose recording coverage is recorded: every checkpoint window (longer than
    MIN_WINDOW) that holds at least six fine checkpoints, and the gap alert's hour."""
    ws = {w for w in recorded_windows(period) if w >= 6 * FINE_STEP} | {timedelta(hours=1)}
    return tuple(sorted(ws))
