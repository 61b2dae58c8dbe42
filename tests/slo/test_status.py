"""slo_status rows and states from recorded series, read through a reader with canned answers."""

from __future__ import annotations

from datetime import datetime

import pytest

from inferwatch.config import PrometheusSettings
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.errors import NoDataError
from inferwatch.prom import PrometheusReader, Sample
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.status import (
    STATE_EXHAUSTED,
    STATE_NO_BUDGET,
    STATE_NO_DATA,
    STATE_OK,
    STATE_PAGE,
    STATE_TICKET,
    require_data,
    slo_status,
)


class CannedReader(PrometheusReader):
    """Answers the status queries from fixed burn rates per namespace and the SLO's coverage per window,
    recording the queries it got."""

    def __init__(
        self,
        burns: dict[str, dict[str, float]],
        budget: float,
        coverage: dict[str, float] | None = None,
        recent_heartbeats: float = 3,
    ) -> None:
        super().__init__(PrometheusSettings())
        self.burns, self.budget, self.coverage = burns, budget, coverage or {}
        self.recent_heartbeats = recent_heartbeats
        self.queries: list[str] = []

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        self.queries.append(expr)
        if expr.startswith(f"last_over_time({c.RECORDING_COVERAGE}"):
            return [Sample({"slo": "s", "window": w}, v) for w, v in self.coverage.items()]
        if expr.startswith(f"count_over_time({c.RECORDING_HEARTBEAT}"):
            return [Sample({"slo": "s"}, self.recent_heartbeats)]
        out = []
        for ns, by_window in self.burns.items():
            if expr.startswith(c.BURN_RATE):
                out += [Sample({"slo": "s", "namespace": ns, "window": w}, v) for w, v in by_window.items()]
            elif expr.startswith(c.ERROR_BUDGET_REMAINING) and "30d" in by_window:
                out.append(Sample({"slo": "s", "namespace": ns}, 1 - by_window["30d"]))
            elif expr.startswith("1 - ") and "30d" in by_window:
                out.append(Sample({"slo": "s", "namespace": ns, "window": "30d"}, 1 - by_window["30d"] * self.budget))
        return out


def _slo() -> SLO:
    spec = {"name": "s", "objective": 99.0, "sli": {"kind": "availability"}, "group_by": ["namespace"]}
    return compile_slo(SLOSpec.model_validate(spec), "test")[0]


def test_one_row_per_group_with_state() -> None:
    """Page beats exhausted beats ticket beats ok; a group with burn rates but no budget yet is "no budget"."""
    calm = {"5m": 0.5, "30m": 0.5, "1h": 0.5, "2h": 0.5, "6h": 0.5, "1d": 0.5, "3d": 0.5, "30d": 0.4}
    burns = {
        "ok": calm,
        "page": calm | {"5m": 20.0, "1h": 15.0},
        "ticket": calm | {"6h": 1.5, "3d": 1.2},
        "spent": calm | {"30d": 1.3},
        "quiet": {"5m": 0.0},
        # paging while the 30-day series is missing (new deployment, gap in the long history)
        "page-new": {k: v for k, v in (calm | {"5m": 20.0, "1h": 15.0}).items() if k != "30d"},
        # a spent budget also burns slowly: exhausted, not a ticket
        "spent-ticket": calm | {"6h": 1.5, "3d": 1.2, "30d": 1.3},
    }
    reader = CannedReader(burns, 0.01)
    rows = {r.group["namespace"]: r for r in slo_status(reader, [_slo()])}
    assert {ns: r.state for ns, r in rows.items()} == {
        "ok": STATE_OK,
        "page": STATE_PAGE,
        "ticket": STATE_TICKET,
        "spent": STATE_EXHAUSTED,
        "quiet": STATE_NO_BUDGET,
        "page-new": STATE_PAGE,
        "spent-ticket": STATE_EXHAUSTED,
    }
    assert STATE_EXHAUSTED == "exhausted"
    spent = rows["spent-ticket"].budget_remaining_percent
    assert spent is not None and abs(spent - -30) < 1e-9
    assert rows["page-new"].budget_remaining_percent is None and rows["page-new"].burn_rate_page_long == 15.0
    ok = rows["ok"]
    assert ok.budget_remaining_percent is not None and abs(ok.budget_remaining_percent - 60) < 1e-9
    assert ok.sli_percent is not None and abs(ok.sli_percent - 99.6) < 1e-9
    assert (ok.burn_rate_page_long, ok.burn_rate_page_slow, ok.burn_windows) == (0.5, 0.5, ("1h", "6h"))
    assert rows["quiet"].budget_remaining_percent is None and rows["quiet"].to_json()["sli_percent"] is None
    # only recorded SLO series are read, never raw or normalized ones
    assert all(
        q.startswith((c.BURN_RATE, c.ERROR_BUDGET_REMAINING, "1 - inferwatch:slo_", "last_over_time(inferwatch:slo_"))
        or q.startswith(f"count_over_time({c.RECORDING_HEARTBEAT}")
        for q in reader.queries
    )
    # no coverage recorded (the long-window group has not run): unknown, nothing marked
    assert ok.coverage.covered_percent is None and ok.coverage.on_gap == ()


def test_coverage_marks_the_figures_resting_on_a_gap() -> None:
    """A gap within the SLO window and the 6 h window marks the SLI, the budget and the 6 h burn rate."""
    calm = {"5m": 0.5, "30m": 0.5, "1h": 0.5, "2h": 0.5, "6h": 0.5, "1d": 0.5, "3d": 0.5, "30d": 0.4}
    reader = CannedReader({"a": calm}, 0.01, {"30d": 0.996, "6h": 0.5, "1h": 1.0, "30m": 1.0})
    (row,) = slo_status(reader, [_slo()])
    assert row.coverage.covered_percent is not None and abs(row.coverage.covered_percent - 99.6) < 1e-9
    assert row.coverage.on_gap == ("sli_percent", "budget_remaining_percent", "burn_rate_page_slow")
    assert row.to_json()["coverage"] == {
        "window": "30d",
        "covered_percent": row.coverage.covered_percent,
        "on_gap": ["sli_percent", "budget_remaining_percent", "burn_rate_page_slow"],
    }
    assert row.coverage.to_status(row.burn_windows) == {
        "window": "30d",
        "coveredPercent": row.coverage.covered_percent,
        "figuresOnGap": ["sliPercent", "budgetRemainingPercent", "burnRates.6h"],
    }
    whole = CannedReader({"a": calm}, 0.01, {"30d": 1.0, "6h": 1.0, "1h": 1.0})
    assert slo_status(whole, [_slo()])[0].coverage.on_gap == ()
    # Prometheus came back minutes ago: the coverage recorded before does not show the gap yet
    just_back = CannedReader({"a": calm}, 0.01, {"30d": 1.0, "6h": 1.0, "1h": 1.0}, recent_heartbeats=1)
    assert slo_status(just_back, [_slo()])[0].coverage.on_gap == (
        "sli_percent",
        "budget_remaining_percent",
        "burn_rate_page_long",
        "burn_rate_page_slow",
    )


def test_burn_rates_without_a_budget_are_data() -> None:
    """Right after a restart, before the long windows are summed again: burn rates show, no exit 4."""
    rows = slo_status(CannedReader({"a": {"5m": 0.2, "1h": 0.3, "6h": 0.4}}, 0.01), [_slo()])
    assert [r.state for r in rows] == [STATE_NO_BUDGET]
    require_data(rows)  # no NoDataError
    empty = slo_status(CannedReader({}, 0.01), [_slo()])
    assert [r.state for r in empty] == [STATE_NO_DATA]
    with pytest.raises(NoDataError):
        require_data(empty)
