"""The controller's steps on an in-memory API server and Prometheus: rules, rejections, status, Events."""

from __future__ import annotations

from typing import Any

import pytest

from inferwatch.app.controller.model import InferenceSLO, compile_inference_slo
from inferwatch.app.controller.objects import SLO_OWNER_LABEL
from inferwatch.app.controller.reconciler import Reconciler, Retry
from inferwatch.config import InferwatchConfig
from inferwatch.conventions.slo import BURN_RATE
from inferwatch.slo.generate import slo_rules
from tests.app.controller.fakes import FakeCluster, FakePrometheus, buckets, with_budget

TTFT = {"objective": 99, "window": "7d", "sli": {"kind": "ttft", "threshold_seconds": 2.5}, "group_by": ["model_name"]}
KEY = "team-a/chat-ttft"


def make(answer: Any = None, retention: str = "30d") -> tuple[FakeCluster, FakePrometheus, Reconciler]:
    cluster = FakeCluster()
    prom = FakePrometheus(answer or buckets(0.5, 1.0, 2.5, 5.0), retention)
    return cluster, prom, Reconciler(cluster, prom, InferwatchConfig())


def submit(cluster: FakeCluster, rec: Reconciler, spec: dict[str, Any], key: str = KEY) -> None:
    namespace, name = key.split("/")
    rec.observe("ADDED", cluster.add_slo(namespace, name, spec))
    rec.reconcile(key)
    rec.observe("MODIFIED", cluster.slos[key])


def test_an_inference_slo_becomes_one_owned_rule_from_the_slo_generator() -> None:
    cluster, _, rec = make()
    submit(cluster, rec, TTFT)
    rule = cluster.rules["team-a/inferenceslo-chat-ttft"]
    owner = rule["metadata"]["ownerReferences"][0]
    assert owner["uid"] == cluster.slos[KEY]["metadata"]["uid"]
    assert owner["controller"] and owner["kind"] == "InferenceSLO"
    assert rule["metadata"]["labels"][SLO_OWNER_LABEL] == "chat-ttft"
    item = InferenceSLO.from_object(cluster.slos[KEY])
    slo = compile_inference_slo(item).slo
    assert slo is not None and slo.name == KEY
    # Exactly the groups `inferwatch build` writes for such an SLO, scoped to the object's namespace, its own
    # copy of the normalized counters labelled with its name.
    assert rule["spec"] == slo_rules([slo], InferwatchConfig(), counters_owner=slo.name).to_dict()
    assert 'namespace="team-a"' in rule["spec"]["groups"][0]["rules"][0]["expr"]
    ready = cluster.ready(KEY)
    assert ready["status"] == "True" and ready["reason"] == "RuleApplied" and ready["observedGeneration"] == 1
    assert cluster.status(KEY)["sloName"] == KEY and cluster.status(KEY)["prometheusRule"] == "inferenceslo-chat-ttft"
    assert any(e[2] == "RuleApplied" for e in cluster.events)


def test_a_threshold_off_the_scraped_buckets_is_refused_naming_the_field() -> None:
    cluster, _, rec = make(buckets(0.5, 1.0, 2.0, 5.0))  # this deployment's custom buckets: no 2.5
    submit(cluster, rec, TTFT)
    assert not cluster.rules
    ready = cluster.ready(KEY)
    assert ready["status"] == "False" and ready["reason"] == "ThresholdNotABucket"
    assert ready["message"].startswith("spec.sli.threshold_seconds: 2.5 is not a bucket boundary")
    assert "0.5, 1, 2, 5" in ready["message"]
    assert cluster.status(KEY)["state"] == "invalid"
    assert ("team-a/chat-ttft", "Warning", "ThresholdNotABucket") in [e[:3] for e in cluster.events]


def test_without_a_scraped_histogram_the_configured_buckets_decide() -> None:
    cluster, _, rec = make(lambda expr: [])
    submit(cluster, rec, TTFT)  # 2.5 is one of vLLM's default TTFT buckets
    assert cluster.ready(KEY)["status"] == "True"
    assert "no histogram scraped yet" in cluster.ready(KEY)["message"]
    submit(cluster, rec, {**TTFT, "sli": {"kind": "ttft", "threshold_seconds": 2.4}}, "team-a/other")
    assert cluster.ready("team-a/other")["reason"] == "ThresholdNotABucket"


def test_a_window_longer_than_the_retention_is_refused() -> None:
    cluster, _, rec = make(retention="15d")
    submit(cluster, rec, {**TTFT, "window": "30d"})
    ready = cluster.ready(KEY)
    assert ready["reason"] == "WindowExceedsRetention" and ready["message"].startswith("spec.window: 30d")
    assert not cluster.rules


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({**TTFT, "thresold": 1}, "spec.thresold"),
        ({**TTFT, "objective": 100}, "spec.objective"),
        ({**TTFT, "matchers": {"namespace": "team-b"}}, "spec.matchers.namespace"),
        ({"objective": 99, "sli": {"kind": "ttft"}}, "spec.sli"),
    ],
)
def test_invalid_specs_get_a_condition_naming_the_field(spec: dict[str, Any], field: str) -> None:
    cluster, _, rec = make()
    submit(cluster, rec, spec)
    ready = cluster.ready(KEY)
    assert ready["reason"] == "InvalidSpec" and ready["message"].startswith(field), ready["message"]
    assert not cluster.rules


def test_a_rule_name_taken_by_a_foreign_object_is_not_overwritten() -> None:
    cluster, _, rec = make()
    theirs = {"metadata": {"name": "inferenceslo-chat-ttft", "namespace": "team-a"}, "spec": {"groups": []}}
    cluster.rules["team-a/inferenceslo-chat-ttft"] = theirs
    submit(cluster, rec, TTFT)
    assert cluster.rules["team-a/inferenceslo-chat-ttft"] == theirs
    assert cluster.ready(KEY)["reason"] == "RuleConflict"


def test_an_objective_change_updates_the_rule_and_a_bad_change_keeps_it() -> None:
    cluster, _, rec = make()
    submit(cluster, rec, TTFT)
    submit(cluster, rec, {**TTFT, "objective": 99.5})
    rule = cluster.rules["team-a/inferenceslo-chat-ttft"]
    burn = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("record") == BURN_RATE)
    assert "/ 0.005" in burn["expr"]
    assert cluster.ready(KEY)["observedGeneration"] == 2
    submit(cluster, rec, {**TTFT, "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 2.4}})
    assert cluster.rules["team-a/inferenceslo-chat-ttft"] == rule  # nothing half-applied
    assert cluster.ready(KEY)["observedGeneration"] == 3
    assert "keeps its previous rules" in cluster.ready(KEY)["message"]


def test_deleting_the_inference_slo_deletes_its_rule() -> None:
    cluster, _, rec = make()
    submit(cluster, rec, TTFT)
    deleted = cluster.slos.pop(KEY)
    rec.observe("DELETED", deleted)
    rec.reconcile(KEY)
    assert not cluster.rules


def test_prometheus_or_the_api_server_away_changes_nothing_and_asks_for_a_retry() -> None:
    cluster, prom, rec = make()
    submit(cluster, rec, TTFT)
    before = dict(cluster.rules)
    prom.down = True  # and the e2e buckets were never read (the TTFT ones are cached for a minute)
    e2e = {**TTFT, "sli": {"kind": "e2e", "threshold_seconds": 5}}
    rec.observe("MODIFIED", cluster.add_slo("team-a", "chat-ttft", e2e))
    with pytest.raises(Retry):
        rec.reconcile(KEY)
    assert cluster.rules == before
    assert cluster.ready(KEY)["status"] == "Unknown" and cluster.ready(KEY)["reason"] == "PrometheusUnavailable"
    prom.down = False
    cluster.down = True
    with pytest.raises(Retry):
        rec.reconcile(KEY)
    cluster.down = False
    rec.reconcile(KEY)
    assert cluster.ready(KEY)["status"] == "True"


def test_status_carries_budget_burn_rates_and_state_and_an_event_on_change() -> None:
    burning = {"1h": 20.0, "5m": 30.0, "6h": 1.0, "30m": 1.0}
    cluster, prom, rec = make()
    prom.answer = with_budget(0.42, burning, buckets(2.5))
    submit(cluster, rec, {**TTFT, "window": "30d", "group_by": []})
    rec.refresh(KEY)
    status = cluster.status(KEY)
    assert status["state"] == "page"
    assert status["budgetRemaining"] == "42.0%" and status["budgetRemainingPercent"] == 42.0
    assert status["burnRates"] == {"1h": 20.0, "6h": 1.0}
    assert status["lastEvaluated"].endswith("Z")
    assert ("team-a/chat-ttft", "Warning", "SLOStatePage") in [e[:3] for e in cluster.events]
    prom.answer = with_budget(0.40, {"1h": 0.5, "5m": 0.5}, buckets(2.5))
    rec.refresh(KEY)
    assert cluster.status(KEY)["state"] == "ok"
    assert ("team-a/chat-ttft", "Normal", "SLOStateOk") in [e[:3] for e in cluster.events]


def test_status_says_how_much_of_the_window_was_recorded_and_which_figures_rest_on_a_gap() -> None:
    """A Prometheus outage inside the SLO window and the 6 h window: the budget, SLI and 6 h burn rate are
    marked; once the recording is whole again nothing is; minutes after a restart every figure is."""
    calm = {"1h": 0.5, "5m": 0.5, "6h": 0.5, "30m": 0.5}
    cluster, prom, rec = make()
    outage = {"30d": 0.9958, "6h": 0.5, "1h": 1.0, "30m": 1.0}
    prom.answer = with_budget(0.42, calm, buckets(2.5), coverage=outage)
    submit(cluster, rec, {**TTFT, "window": "30d", "group_by": []})
    rec.refresh(KEY)
    coverage = cluster.status(KEY)["coverage"]
    assert coverage["window"] == "30d" and abs(coverage["coveredPercent"] - 99.58) < 1e-9
    assert coverage["figuresOnGap"] == ["sliPercent", "budgetRemainingPercent", "burnRates.6h"]
    whole = {"30d": 1.0, "6h": 1.0, "1h": 1.0, "30m": 1.0}
    prom.answer = with_budget(0.42, calm, buckets(2.5), coverage=whole)
    rec.refresh(KEY)
    assert cluster.status(KEY)["coverage"] == {"window": "30d", "coveredPercent": 100.0, "figuresOnGap": []}
    # Prometheus restarted a minute ago: one heartbeat of three, the recorded coverage not updated yet
    prom.answer = with_budget(0.42, calm, buckets(2.5), coverage=whole, heartbeats=1)
    rec.refresh(KEY)
    assert cluster.status(KEY)["coverage"]["figuresOnGap"] == [
        "sliPercent",
        "budgetRemainingPercent",
        "burnRates.1h",
        "burnRates.6h",
    ]


def test_a_histogram_scraped_for_the_first_time_counts_at_once() -> None:
    cluster, prom, rec = make(lambda expr: [])
    submit(cluster, rec, TTFT)  # no histogram yet: vLLM's defaults hold 2.5
    assert cluster.ready(KEY)["status"] == "True"
    prom.answer = buckets(0.5, 1.0, 2.0)  # the model's first scrape: custom buckets without 2.5
    rec.reconcile(KEY)
    assert cluster.ready(KEY)["reason"] == "ThresholdNotABucket"
