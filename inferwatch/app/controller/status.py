"""An InferenceSLO's ``status``: conditions, and the budget figures `inferwatch slo status` computes.

The figures come from `inferwatch.slo.status.slo_status` (the rows `inferwatch slo status`
prints), so the object and the command never disagree. An SLO with several series (``group_by``)
reports its worst series at the top (state, budget, burn rates) and every series in ``series``;
``coverage`` says how much of the SLO window Prometheus recorded and which figures rest on a gap
(the same for every series of the SLO: one recording).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inferwatch.slo.status import (
    STATE_EXHAUSTED,
    STATE_NO_BUDGET,
    STATE_NO_DATA,
    STATE_OK,
    STATE_PAGE,
    STATE_TICKET,
    StatusRow,
)

READY = "Ready"
STATE_INVALID = "invalid"
# Worst first: the state an SLO with several series reports.
SEVERITY = (STATE_PAGE, STATE_EXHAUSTED, STATE_TICKET, STATE_OK, STATE_NO_BUDGET, STATE_NO_DATA)
# States that deserve a Warning event when entered.
ALARMING = frozenset({STATE_PAGE, STATE_EXHAUSTED, STATE_TICKET})
MAX_SERIES = 100


def rfc3339(at: datetime) -> str:
    """A Kubernetes timestamp (seconds, UTC, Z)."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Condition:
    """One status condition, as Kubernetes API conventions spell it."""

    type: str
    status: str
    reason: str
    message: str
    observed_generation: int

    def to_json(self, previous: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
        """The condition as the API stores it; lastTransitionTime moves only when the status changes."""
        old = next((c for c in previous if c.get("type") == self.type), None)
        since = old.get("lastTransitionTime") if old and old.get("status") == self.status else None
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message[:32000],
            "observedGeneration": self.observed_generation,
            "lastTransitionTime": since or rfc3339(now),
        }


def _round(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


def _worst(rows: Sequence[StatusRow]) -> StatusRow:
    def rank(r: StatusRow) -> tuple[int, float]:
        budget = r.budget_remaining_percent
        return SEVERITY.index(r.state) if r.state in SEVERITY else len(SEVERITY), budget if budget is not None else 1e9

    return min(rows, key=rank)


def figures(rows: Sequence[StatusRow]) -> dict[str, Any]:
    """The status fields computed from one SLO's rows: state, budget, SLI and burn rates of its worst
    series, the recording's coverage of the window, and every series (at most MAX_SERIES)."""
    if not rows:
        return {"state": STATE_NO_DATA, "budgetRemaining": "", "series": []}
    worst = _worst(rows)
    budget = _round(worst.budget_remaining_percent, 2)
    burns = {
        window: round(value, 3)
        for window, value in zip(
            worst.burn_windows, (worst.burn_rate_page_long, worst.burn_rate_page_slow), strict=True
        )
        if value is not None
    }
    out: dict[str, Any] = {
        "state": worst.state,
        "budgetRemaining": "" if budget is None else f"{budget:.1f}%",
        "burnRates": burns,
        "coverage": worst.coverage.to_status(worst.burn_windows),
        "series": [
            {
                "labels": dict(r.group),
                "state": r.state,
                **(
                    {}
                    if r.budget_remaining_percent is None
                    else {"budgetRemainingPercent": _round(r.budget_remaining_percent, 2)}
                ),
                **({} if r.sli_percent is None else {"sliPercent": _round(r.sli_percent, 4)}),
            }
            for r in rows[:MAX_SERIES]
        ],
    }
    if budget is not None:
        out["budgetRemainingPercent"] = budget
    if worst.sli_percent is not None:
        out["sliPercent"] = _round(worst.sli_percent, 4)
    return out


def event_for_transition(old: str | None, new: str) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event a state change deserves; None when the state is unchanged
    or first seen as ok / no data (nothing to tell)."""
    if old == new or (old is None and new in (STATE_OK, STATE_NO_DATA)):
        return None
    kind = "Warning" if new in ALARMING or new == STATE_INVALID else "Normal"
    reason = "SLOState" + "".join(part.capitalize() for part in new.split())
    return kind, reason, f"state {old or 'unknown'} -> {new}"
