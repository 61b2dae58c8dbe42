"""The weekly cost report's arithmetic, against an in-memory reader (no Prometheus).

The fake Prometheus (tests/slo/cost/fake.py) answers each of the report's queries with the hourly
GPU-hours, tokens and the weekly figures of the hand-built week in tests/slo/cost/sample.py.
Every expected number is computed here by hand from those figures: every figure ties out to the
cent (namespaces + idle = the bill, models + the part no model accounts for = the namespace, the
idle GPUs = idle, teams = their namespaces), waste is the unused share, and the week is compared
with a partly observed week over the hours both have data for. The same over a real backfilled
Prometheus is tests/slo/cost/test_report_e2e.py.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal

import pytest

from inferwatch.config import CostReportSettings, Pricing
from inferwatch.config.pricing import IdlePolicy
from inferwatch.errors import NoDataError, PrometheusUnavailableError
from inferwatch.prom import Sample
from inferwatch.slo.cost.collection import collect_report
from inferwatch.slo.cost.focus_csv import FocusIdentity, render_csv
from inferwatch.slo.cost.layout import coverage_note
from inferwatch.slo.cost.ledger import LineKind, total
from inferwatch.slo.cost.model import NOT_ATTRIBUTED, CostReport
from inferwatch.slo.cost.queries import query_count, report_queries
from inferwatch.slo.cost.week import IsoWeek
from tests.slo.cost.fake import EVALUATIONS_PER_HOUR, FakePrometheus, Figures, every_hour
from tests.slo.cost.sample import (
    A100,
    BEFORE,
    H100,
    L4,
    LLAMA,
    PRICING,
    QWEN,
    SETTINGS,
    WEEK,
    previous_week,
    sample_report,
    sample_weeks,
    shared_report,
    this_week,
)

D = Decimal


def _ns(report: CostReport) -> dict[str, object]:
    return {ns.namespace: ns for ns in report.namespaces}


def test_namespaces_plus_idle_is_the_bill_to_the_cent() -> None:
    report = sample_report()
    costs = {ns.namespace: ns.cost for ns in report.namespaces}
    assert costs == {"team-a": D("1008.00"), "team-b": D("480.00"), "team-c": D("480.00")}
    assert report.idle_cost == D("864.00") + D("192.00") + D("168.00")
    assert sum(costs.values()) + report.reported_idle_cost == report.total_cost == D("3192.00")
    assert report.total_gpu_hours == D(252 + 156 + 120 + 216 + 96 + 168)
    assert report.idle_ratio == pytest.approx(1224 / 3192)


def test_a_namespaces_models_and_the_part_no_model_accounts_for_add_up_to_it() -> None:
    report = sample_report()
    for ns in report.namespaces:
        assert sum((m.cost for m in ns.models), D(0)) == ns.cost, ns.namespace
    b = next(ns for ns in report.namespaces if ns.namespace == "team-b")
    # The notebook's 3/7 of an A100 serves no model: 72 A100-hours at 2.00, on its own line, with its reason.
    assert [(m.name, m.cost) for m in b.models] == [(QWEN, D("336.00")), (NOT_ATTRIBUTED, D("144.00"))]
    assert b.unattributed is not None and b.unattributed.gpu_hours == D(72)
    assert [(p.namespace, p.pod, p.gpu_hours) for p in report.silent_pods] == [("team-b", "notebook-0", 72.0)]


def test_one_line_per_gpu_model_priced_at_its_list_price() -> None:
    report = sample_report()
    b_lines = [ln for ln in report.lines if ln.namespace == "team-b"]
    assert {(ln.sku.gpu_model, ln.sku.unit_price, ln.gpu_hours, ln.cost) for ln in b_lines} == {
        (H100, D("4.0"), D(84), D("336.00")),
        (A100, D("2.0"), D(72), D("144.00")),
    }
    for ln in report.lines:
        assert ln.cost == (ln.sku.unit_price * ln.gpu_hours).quantize(D("0.01"))
    idle = {ln.sku.gpu_model: (ln.gpu_hours, ln.cost) for ln in report.lines if ln.kind is LineKind.IDLE}
    assert idle == {H100: (D(216), D("864.00")), A100: (D(96), D("192.00")), L4: (D(168), D("168.00"))}


def test_waste_is_the_unused_share_priced_and_savings_are_idle_plus_waste() -> None:
    report = sample_report()
    waste = {m.name: (m.unused_gpu_hours, m.unused_cost) for m in report.models if m.namespace == "team-a"}
    assert waste == {LLAMA: (D("50.4"), D("201.60")), QWEN: (D("50.4"), D("201.60"))}
    ns = _ns(report)
    assert ns["team-b"].unused_cost == D("134.40") + D("129.60")  # type: ignore[attr-defined]
    assert report.unused_cost == D("811.20")
    assert report.savings == report.idle_cost + report.unused_cost == D("2035.20")
    # A pod under the threshold saves its unused share, not its whole cost.
    pod = next(p for p in report.low_utilization if p.pod == "notebook-0")
    assert pod.cost == 144.0
    assert pod.utilization == pytest.approx(0.1)
    assert pod.unused_cost == pytest.approx(129.6)
    assert [p.pod for p in report.low_utilization] == ["a-1", "notebook-0"]  # under 50 %: 40 % and 10 % busy


def test_cost_per_million_tokens_with_the_input_output_split() -> None:
    report = sample_report()
    models = {(m.namespace, m.name): m for m in report.models}
    llama = models[("team-a", LLAMA)]
    assert llama.tokens == 168 * (4.5e6 + 0.9e6)
    assert llama.per_mtok == pytest.approx(672 / (168 * 5.4))
    # 168 of the recorded 672 was prefill: a quarter of its cost is priced per prompt token.
    assert llama.input_cost == D("168.00")
    assert llama.input_per_mtok == pytest.approx(168 / (168 * 4.5))
    assert llama.output_per_mtok == pytest.approx(504 / (168 * 0.9))
    mistral = models[("team-c", "mistralai/Mistral-7B")]
    assert mistral.per_mtok == pytest.approx(480 / (120 * 7.2)) and mistral.input_per_mtok != mistral.input_per_mtok
    ns = _ns(report)["team-a"]
    assert ns.per_mtok == pytest.approx(1008 / ns.tokens * 1e6)  # type: ignore[attr-defined]
    assert ns.usage_per_mtok == pytest.approx(float(ns.usage_cost) / ns.tokens * 1e6)  # type: ignore[attr-defined]
    assert report.per_mtok == pytest.approx(3192 / report.tokens * 1e6)


def test_energy_latency_and_hours_with_data_per_namespace() -> None:
    ns = _ns(sample_report())
    a = ns["team-a"]
    assert (a.energy_kwh, a.energy_cost(PRICING_PRICES), a.p95_ttft_s) == (D(84), D("25.20"), 0.86)  # type: ignore[attr-defined]
    assert [ns[n].observed_hours for n in ("team-a", "team-b", "team-c")] == [168, 168, 120]  # type: ignore[attr-defined]


PRICING_PRICES = sample_report(previous=False).prices


def test_idle_shared_by_held_cost_keeps_every_figure_tied() -> None:
    report = shared_report()
    assert report.reported_idle_cost == 0 and report.idle_cost == D("1224.00")
    assert report.price_note == ""  # shared idle is still priced GPU time of the recorded bill
    assert sum((ns.cost for ns in report.namespaces), D(0)) == report.total_cost == D("3192.00")
    weights = {"team-a": 1008, "team-b": 480, "team-c": 480}
    for ns in report.namespaces:
        assert float(ns.idle_share) == pytest.approx(1224 * weights[ns.namespace] / 1968, abs=0.02)
        assert sum((m.cost for m in ns.models), D(0)) == ns.cost
    # Each share line keeps the idle GPU model's price: ListCost = price x GPU-hours on every line.
    for ln in report.lines:
        assert ln.kind is not LineKind.IDLE
        assert ln.cost == (ln.sku.unit_price * ln.gpu_hours).quantize(D("0.01"))


def test_week_over_week_compares_the_hours_both_weeks_have_data_for() -> None:
    report = sample_report()
    comp = report.comparison
    assert comp is not None and comp.previous_week == BEFORE
    assert comp.hours == {"default": 48} and comp.previous_coverage == {"default": 48} and not comp.full
    # The weekend of each week: team-a held the same, team-b arrived, team-c (weekdays) is not in it.
    now, before = comp.current_bill, comp.previous_bill
    assert (now.total_cost, before.total_cost) == (D("912.00"), D("912.00"))
    moved = comp.namespace_changes()
    assert [(ch.name, ch.previous, ch.current, ch.status) for ch in moved] == [("team-b", D(0), D("137.14"), "new")]
    assert "team-c" not in {ch.name for ch in comp.model_changes()}
    assert [(ch.name, ch.delta) for ch in comp.group_changes("team")] == [("search", D("137.14"))]


def test_no_previous_week_leaves_nothing_to_compare() -> None:
    assert sample_report(previous=False).comparison is None


def test_teams_add_up_their_namespaces_by_label() -> None:
    report = sample_report()
    teams = {g.name: g for g in report.groups("team")}
    assert {k: g.cost for k, g in teams.items()} == {"ads": D("480.00"), "search": D("1488.00")}
    centres = {g.name: [ns.namespace for ns in g.namespaces] for g in report.groups("cost-center")}
    assert centres == {"cc-1": ["team-a"], "cc-2": ["team-c"], "(no cost-center label)": ["team-b"]}
    assert sum((g.cost for g in report.groups("team")), D(0)) == report.attributed_cost


def test_idle_gpus_share_their_model_s_idle_cost_and_add_up_to_idle() -> None:
    report = sample_report()
    gpus = {g.gpu_uuid: g for g in report.idle_gpus}
    assert sum((g.idle_cost for g in report.idle_gpus), D(0)) == report.idle_cost
    assert (gpus["GPU-M"].idle_cost, gpus["GPU-L"].idle_cost) == (D("192.00"), D("168.00"))
    assert gpus["GPU-D"].node == "dgx-3" and gpus["GPU-L"].node == "10.0.0.4:9400"  # dcgm Hostname, then instance


def test_a_recorded_cost_far_from_the_priced_hours_says_a_price_changed() -> None:
    assert sample_report().price_note == ""  # 0.50 off in 3,192: evaluation edges
    weeks = sample_weeks()
    weeks[WEEK]["recorded_gpu_cost"] = {("",): 2000.0}
    report = collect_report(FakePrometheus(weeks), WEEK, PRICING, settings=SETTINGS)
    assert "did a price change during the week" in report.price_note


def _two_clusters() -> dict[object, Figures]:
    eu = this_week()
    us: Figures = {
        "coverage": {("us-1",): every_hour(EVALUATIONS_PER_HOUR, range(24, 26))},
        "held": {("us-1", "team-a", H100): every_hour(1.0, range(24, 26))},
        "model_held": {("us-1", "team-a", LLAMA, H100): every_hour(1.0, range(24, 26))},
        "idle": {("us-1", L4): every_hour(2.0, range(24, 26))},
        "prompt": {("us-1", "team-a", LLAMA): every_hour(1e6, range(24, 26))},
    }
    merged = {k: {**{(("eu-1", *key[1:])): v for key, v in eu.get(k, {}).items()}, **us.get(k, {})} for k in eu}
    merged["coverage"] = {("eu-1",): every_hour(EVALUATIONS_PER_HOUR), **us["coverage"]}
    for k in ("recorded_gpu_cost",):
        merged[k] = {("eu-1",): 3191.5}
    return {
        WEEK: merged,
        BEFORE: {k: {("eu-1", *key[1:]): v for key, v in fig.items()} for k, fig in previous_week().items()},
    }


def test_several_clusters_make_one_report_with_every_line_naming_its_cluster() -> None:
    report = collect_report(FakePrometheus(_two_clusters()), WEEK, PRICING, settings=SETTINGS)  # type: ignore[arg-type]
    assert report.clusters == ("eu-1", "us-1") and report.coverage == {"eu-1": 168, "us-1": 2}
    assert report.observed_hours == 168 and not report.full_coverage
    keys = {(ns.cluster, ns.namespace): ns.cost for ns in report.namespaces}
    assert keys[("us-1", "team-a")] == D("8.00") and keys[("eu-1", "team-a")] == D("1008.00")
    assert report.total_cost == D("3192.00") + D("8.00") + D("4.00")
    us_idle = [ln for ln in report.lines if ln.cluster == "us-1" and ln.kind is LineKind.IDLE]
    assert [(ln.sku.gpu_model, ln.cost) for ln in us_idle] == [(L4, D("4.00"))]
    comp = report.comparison
    assert comp is not None and comp.hours == {"eu-1": 48, "us-1": 0}
    # us-1 has no data in the previous week: its hours are not compared, so it is not "new".
    assert all(ch.cluster == "eu-1" for ch in comp.namespace_changes())


def test_a_single_cluster_without_the_label_gets_the_configured_name() -> None:
    settings = CostReportSettings(default_cluster="prod")
    report = collect_report(FakePrometheus(sample_weeks()), WEEK, PRICING, settings=settings)
    assert report.clusters == ("prod",) and {ln.cluster for ln in report.lines} == {"prod"}


def test_every_query_is_asked_once_per_week_and_counted() -> None:
    reader = FakePrometheus(sample_weeks())
    steps: list[str] = []
    collect_report(reader, WEEK, Pricing(), steps.append)
    assert len(steps) == len(reader.asked) == query_count()
    assert len(set(reader.asked)) == len(reader.asked)
    # The previous week is only compared with: its hourly quantities, nothing else.
    assert {k for w, k in reader.asked if w == BEFORE} == {q.key for q in report_queries(60, previous=True)}


def test_a_week_without_cost_series_is_no_data() -> None:
    with pytest.raises(NoDataError, match="no cost series for 2026-W46"):
        collect_report(FakePrometheus({WEEK: {"coverage": {}}}), WEEK, PRICING)


def test_what_the_reader_raises_reaches_the_caller() -> None:
    class Down(FakePrometheus):
        def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
            raise PrometheusUnavailableError("Prometheus at http://prom:9090 did not answer")

        def query_range(self, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
            raise PrometheusUnavailableError("Prometheus at http://prom:9090 did not answer")

    with pytest.raises(PrometheusUnavailableError, match="prom:9090"):
        collect_report(Down({}), WEEK, Pricing())


def test_share_policy_in_config() -> None:
    report = collect_report(
        FakePrometheus(sample_weeks()), WEEK, PRICING.model_copy(update={"idle_policy": IdlePolicy.SHARE})
    )
    assert total([ln for ln in report.lines if ln.kind is LineKind.IDLE_SHARE]) == D("1224.00")


def _with_gaps(hours: dict[int, float]) -> dict[IsoWeek, Figures]:
    """The sample weeks, this week's rules having recorded only ``hours`` (hour -> evaluations) as given."""
    weeks = sample_weeks()
    coverage = every_hour(EVALUATIONS_PER_HOUR)
    for hour, evaluations in hours.items():
        if evaluations:
            coverage[hour] = evaluations
        else:
            del coverage[hour]
    weeks[WEEK]["coverage"] = {("",): coverage}
    return weeks


def test_an_outage_is_counted_as_the_minutes_recorded_and_its_hours_are_named() -> None:
    """Prometheus down Tuesday 09:10 to 12:40: 50 and 20 of 60 evaluations, two hours none (issue 27).

    Before, an hour with any evaluation counted as a whole hour with data: the report claimed 166
    hours for 165.17 recorded, and said nothing about the hours the outage cut short.
    """
    gap = {33: 50.0, 34: 0.0, 35: 0.0, 36: 20.0}
    report = collect_report(FakePrometheus(_with_gaps(gap)), WEEK, PRICING, settings=SETTINGS)
    recorded = 164 + 70 / 60
    assert report.coverage == {"default": pytest.approx(recorded)}
    assert report.observed_hours == pytest.approx(recorded) and not report.full_coverage
    assert report.gap_hours == {"default": {33: pytest.approx(5 / 6), 34: 0.0, 35: 0.0, 36: pytest.approx(1 / 3)}}
    assert _ns(report)["team-a"].observed_hours == pytest.approx(recorded)  # type: ignore[attr-defined]
    note = coverage_note(report)
    assert note.startswith("Partial week: data for 165.17 of 168 hours (98.3 %).")
    assert "Tue 2026-11-10 09:00 to 13:00 (1.17 of 4 h recorded)" in note and "rests on a gap" in note
    rows = list(csv.DictReader(render_csv(report, FocusIdentity.of(PRICING, SETTINGS)).splitlines()))
    assert {r["x_ClusterObservedHours"] for r in rows} == {"165.1667"}


def test_the_weeks_are_compared_over_the_hours_both_recorded_in_full() -> None:
    """A weekend hour cut short by a restart (40 of 60 evaluations) is not like with like: left out."""
    report = collect_report(FakePrometheus(_with_gaps({130: 40.0})), WEEK, PRICING, settings=SETTINGS)
    comp = report.comparison
    assert comp is not None and comp.hours == {"default": 47} and report.gap_hours == {"default": {130: 2 / 3}}
    # The sample's weekend is 19 EUR an hour in both weeks: 47 hours compared, not 48.
    assert (comp.current_bill.total_cost, comp.previous_bill.total_cost) == (D("893.00"), D("893.00"))


def test_a_recording_that_starts_or_ends_within_an_hour_is_a_partial_week_not_a_gap() -> None:
    """Installed Tuesday 00:30, the week so far read at Wednesday 10:15: edges, not gaps."""
    hours = dict.fromkeys(range(24, 58), EVALUATIONS_PER_HOUR)
    hours[24], hours[58] = 30.0, 15.0
    weeks = sample_weeks()
    weeks[WEEK]["coverage"] = {("",): hours}
    report = collect_report(FakePrometheus(weeks), WEEK, PRICING, settings=SETTINGS)
    assert report.coverage == {"default": pytest.approx(33.75)} and report.gap_hours == {}
    assert coverage_note(report) == (
        "Partial week: data for 33.75 of 168 hours (20.1 %). Every figure is what was observed in those hours, "
        "not extrapolated to the week."
    )
