"""`slo status`: one row per SLO series, read from the recorded SLO series (Prometheus does the arithmetic).

Each row also says how much of the SLO window the SLO's recording covers and which of its
figures rest on a gap (a stretch in which Prometheus did not record: its events are counted from
the counters' jump across it, but a pod that restarted inside it lost its events before the
restart); `Coverage.to_status()` is the same as a Kubernetes status field.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from inferwatch.conventions import slo as c
from inferwatch.errors import NoDataError
from inferwatch.prom import PrometheusReader, Sample
from inferwatch.promql import format_number, selector
from inferwatch.slo.model import SLO
from inferwatch.slo.windows import FINE_STEP, format_duration, windows_for

log = logging.getLogger(__name__)

STATE_OK = "ok"
STATE_PAGE = "page"
STATE_TICKET = "ticket"
STATE_EXHAUSTED = "exhausted"
STATE_NO_BUDGET = "no budget"
STATE_NO_DATA = "no data"
# The span before the instant asked in which slo status counts the heartbeats itself (the recorded
# coverage lags by up to one run of the long-window group).
RECENT = 3 * FINE_STEP
# Coverage below this reads as a gap (the heartbeats due per window are whole numbers; a ratio of 1
# is exact when none is missing).
_WHOLE = 1 - 1e-9


@dataclass(frozen=True)
class Coverage:
    """How much of an SLO window its recording covers, and which figures of a row rest on a gap."""

    window: str
    covered_percent: float | None  # None: no coverage recorded (the long-window group has not run)
    on_gap: tuple[str, ...]  # names of the row's figures (StatusRow fields) whose window holds a gap

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"window": self.window, "covered_percent": self.covered_percent, "on_gap": list(self.on_gap)}

    def to_status(self, burn_windows: tuple[str, str]) -> dict[str, Any]:
        """The same as a Kubernetes status field, for an InferenceSLO's `status.coverage`: the figures on a
        gap named as the status names them (`burnRates.<window>` for the burn rates over ``burn_windows``);
        `coveredPercent` is null while unknown, so a merge patch removes a share recorded before."""
        names = {
            "sli_percent": "sliPercent",
            "budget_remaining_percent": "budgetRemainingPercent",
            "burn_rate_page_long": f"burnRates.{burn_windows[0]}",
            "burn_rate_page_slow": f"burnRates.{burn_windows[1]}",
        }
        return {
            "window": self.window,
            "coveredPercent": self.covered_percent,
            "figuresOnGap": [names[f] for f in self.on_gap],
        }


@dataclass(frozen=True)
class StatusRow:
    """The state of one SLO series (one group of one SLO) at one instant."""

    slo: str
    group: dict[str, str]
    objective_percent: float
    window: str
    sli_percent: float | None
    budget_remaining_percent: float | None
    burn_rate_page_long: float | None
    burn_rate_page_slow: float | None
    burn_windows: tuple[str, str]
    state: str
    coverage: Coverage

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (NaN-free: missing values are null)."""
        out = asdict(self)
        out["burn_windows"] = list(self.burn_windows)
        out["coverage"] = self.coverage.to_json()
        return out


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", c.SLO_LABEL, c.WINDOW_LABEL)))


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _by_group(samples: Sequence[Sample]) -> dict[tuple[tuple[str, str], ...], float]:
    return {_key(s.labels): s.value for s in samples}


def _alerting(slo: SLO, burns: dict[str, float], severity: str) -> bool:
    for w in windows_for(slo.period):
        if w.severity != severity:
            continue
        long_b = burns.get(format_duration(w.long))
        short_b = burns.get(format_duration(w.short))
        if long_b is not None and short_b is not None and long_b > w.factor and short_b > w.factor:
            return True
    return False


def _state(slo: SLO, burns: dict[str, float], remaining: float | None) -> str:
    """Page beats exhausted beats ticket beats ok; no budget when only burn rates are there; no data
    only when nothing says otherwise.

    A page reads the short windows only, so it is reported even while the SLO window's
    series is missing (a new deployment, the minutes after a Prometheus restart before the long
    windows are summed again); an exhausted budget is reported as such rather than as the ticket
    its slow burn also raises.
    """
    if _alerting(slo, burns, "page"):
        return STATE_PAGE
    if remaining is not None and remaining <= 0:
        return STATE_EXHAUSTED
    if _alerting(slo, burns, "ticket"):
        return STATE_TICKET
    if remaining is None:
        return STATE_NO_BUDGET if burns else STATE_NO_DATA
    return STATE_OK


def _coverage(reader: PrometheusReader, slo: SLO, at: datetime | None, w_fast: str, w_slow: str) -> Coverage:
    """The SLO's recording coverage of its window, and which figures rest on a gap.

    Coverage is recorded every 5 minutes; a gap within the last `RECENT` (Prometheus just came
    back) may not be in it yet, so the heartbeats of that span are counted here too, and such a
    gap (or no heartbeat at all) marks every figure: each window holds it.
    """
    sel = {c.SLO_LABEL: slo.name}
    covered = {
        s.labels.get(c.WINDOW_LABEL, ""): s.value
        for s in reader.query(f"last_over_time({selector(c.RECORDING_COVERAGE, sel)}[{c.WINDOW_SUM_LOOKBACK}])", at)
        if math.isfinite(s.value)
    }
    beats = reader.query(f"count_over_time({selector(c.RECORDING_HEARTBEAT, sel)}[{format_duration(RECENT)}])", at)
    recent_gap = not beats or beats[0].value < RECENT / FINE_STEP

    def gap(window: str) -> bool:
        return recent_gap or (window in covered and covered[window] < _WHOLE)

    figures = {
        "sli_percent": slo.window,
        "budget_remaining_percent": slo.window,
        "burn_rate_page_long": w_fast,
        "burn_rate_page_slow": w_slow,
    }
    whole = covered.get(slo.window)
    return Coverage(
        window=slo.window,
        covered_percent=None if whole is None else whole * 100,
        on_gap=tuple(name for name, window in figures.items() if gap(window)),
    )


def slo_status(reader: PrometheusReader, slos: Sequence[SLO], at: datetime | None = None) -> list[StatusRow]:
    """Query the recorded burn rates and budgets of ``slos`` and return one row per SLO series."""
    rows: list[StatusRow] = []
    for slo in slos:
        sel = {c.SLO_LABEL: slo.name}
        burn_samples = reader.query(selector(c.BURN_RATE, sel), at)
        remaining = _by_group(reader.query(selector(c.ERROR_BUDGET_REMAINING, sel), at))
        window_burn = selector(c.BURN_RATE, {**sel, c.WINDOW_LABEL: slo.window})
        sli = _by_group(reader.query(f"1 - {window_burn} * {format_number(slo.error_budget)}", at))
        burns: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
        for s in burn_samples:
            burns.setdefault(_key(s.labels), {})[s.labels.get(c.WINDOW_LABEL, "")] = s.value
        page = [w for w in windows_for(slo.period) if w.severity == "page"]
        w_fast, w_slow = format_duration(page[0].long), format_duration(page[1].long)
        coverage = _coverage(reader, slo, at, w_fast, w_slow)
        groups = sorted(set(burns) | set(remaining)) or [()]
        for group in groups:
            b = {k: v for k, v in burns.get(group, {}).items() if math.isfinite(v)}
            rem = _finite(remaining.get(group))
            sli_v = _finite(sli.get(group))
            rows.append(
                StatusRow(
                    slo=slo.name,
                    group=dict(group),
                    objective_percent=slo.objective_percent,
                    window=slo.window,
                    sli_percent=None if sli_v is None else sli_v * 100,
                    budget_remaining_percent=None if rem is None else rem * 100,
                    burn_rate_page_long=b.get(w_fast),
                    burn_rate_page_slow=b.get(w_slow),
                    burn_windows=(w_fast, w_slow),
                    state=_state(slo, b, rem),
                    coverage=coverage,
                )
            )
        log.debug("slo %s: %d series", slo.name, len(groups))
    return rows


def require_data(rows: Sequence[StatusRow]) -> None:
    """Raise NoDataError (exit 4) when no SLO series has any figure: nothing is recorded for any SLO.

    A row with burn rates and no budget yet (the minutes after a restart) is a figure: no exit 4.
    """
    if all(r.state == STATE_NO_DATA for r in rows):
        names = ", ".join(sorted({r.slo for r in rows})) or "none configured"
        raise NoDataError(
            f"no data for any SLO ({names}): no recorded SLO series in Prometheus; "
            "check that the SLO rules are loaded (inferwatch slo rules) and that vLLM is scraped"
        )
