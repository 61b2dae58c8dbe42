"""Backfill passes and group order come from what each rule's expression reads, never from a hand-made list."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.alerts.normalize import normalization_groups
from inferwatch.config import Pricing
from inferwatch.config.slo import SLOSpec
from inferwatch.localstack.rulepasses import (
    RuleCycleError,
    group_eval_order,
    load_rule_groups,
    needed_rules,
    pass_rule_files,
    rule_passes,
    selectors,
    series_read,
)
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.slo.checkpoints import checkpoint_rules, counter_rules, long_window_rules
from inferwatch.slo.cost.rules import cost_groups
from inferwatch.slo.model import compile_slo
from inferwatch.slo.rules import budget_rule, sli_rules, slo_groups, window_rules

REPO = Path(__file__).resolve().parents[2]
SLO = compile_slo(
    SLOSpec.model_validate({"name": "chat-ttft", "objective": 99, "sli": {"kind": "ttft", "threshold_seconds": 1}}),
    "test",
)[0]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (namespace, le) (rate(vllm:x_bucket{le="1.0"}[5m] offset 1h))', {"vllm:x_bucket"}),
        ("a / on (pod) group_left (node) b > bool 1e-3 and c unless d @ start()", {"a", "b", "c", "d"}),
        ('label_replace(up, "dst", "$1", "src", "(a|b)") or {__name__="other", job="j"}', {"up", "other"}),
        ('count_values("v", x) + topk(5, y) + quantile(0.9, z) + 0x1f + 1h30m + Inf + nan', {"x", "y", "z"}),
        ("max_over_time(s:m:r[1h:5m]) # a comment naming not_a_series", {"s:m:r"}),
    ],
)
def test_series_read_keeps_names_only(expr: str, names: set[str]) -> None:
    assert series_read(expr) == names


def test_selectors_keep_equality_matchers() -> None:
    (sel,) = selectors('x{slo="a", le=~"1.*", window!="5m"}')
    assert sel.name == "x" and dict(sel.equal) == {"slo": "a"}
    assert sel.may_select(RecordingRule("x", "1", {"slo": "a"})) and sel.may_select(RecordingRule("x", "1"))
    assert not sel.may_select(RecordingRule("x", "1", {"slo": "b"}))


def test_an_slo_and_the_cost_levels_fall_into_the_passes_their_reads_require() -> None:
    cost = [r for g in cost_groups(Pricing()) for r in g.rules if isinstance(r, RecordingRule)]
    events, counters, checkpoints, sums, windows, budget = (
        sli_rules(SLO),
        counter_rules(SLO),
        checkpoint_rules(SLO),
        long_window_rules(SLO),
        window_rules(SLO),
        budget_rule(SLO),
    )
    rules = [*cost, budget, *windows, *sums, *checkpoints, *counters, *events]
    passes = rule_passes(rules, lambda r: r)
    where = {id(r): n for n, members in enumerate(passes) for r in members}
    assert sum(map(len, passes)) == len(rules)
    # events read normalized series, recorded elsewhere; the heartbeat reads nothing
    assert {where[id(r)] for r in (*events, checkpoints[2])} == {0}
    # the 5-minute checkpoints read the heartbeat of the run before (whether it ran), so a pass after it
    assert {where[id(r)] for r in counters} == {1}
    # the hourly checkpoints read the 5-minute ones (of the run before and this one), so a pass after them
    assert {where[id(r)] for r in checkpoints[:2]} == {2}
    assert {where[id(r)] for r in sums[:2]} == {3}
    assert where[id(sums[2])] == 1  # the coverage reads the heartbeat
    assert where[id(budget)] > max(where[id(r)] for r in windows) >= 4
    for r in rules:  # every rule after each rule it reads
        for sel in selectors(r.expr):
            assert all(where[id(p)] < where[id(r)] for p in rules if p is not r and sel.may_select(p))


def test_rules_reading_each_other_in_a_circle_are_refused() -> None:
    rules = [RecordingRule("a:x:r", "b:x:r * 2"), RecordingRule("b:x:r", "sum(a:x:r)"), RecordingRule("c", "c + 1")]
    with pytest.raises(RuleCycleError, match="a:x:r -> b:x:r -> a:x:r"):
        rule_passes(rules, lambda r: r)


def test_needed_rules_follow_reads_through_other_rules() -> None:
    rules = [RecordingRule("n:a", "raw_a"), RecordingRule("n:b", "n:a * 2"), RecordingRule("n:c", "raw_c")]
    assert needed_rules(rules, ["sum(n:b)"]) == rules[:2]


def test_a_group_split_over_passes_keeps_its_name_and_interval() -> None:
    checkpoints = RuleGroup("checkpoints", (*counter_rules(SLO), *checkpoint_rules(SLO)), interval="5m")
    files = pass_rule_files([RuleGroup("sli", sli_rules(SLO)), checkpoints])
    assert [[g.name for g in f.groups] for f in files] == [["sli", "checkpoints"], ["checkpoints"], ["checkpoints"]]
    assert files[0].groups[1].interval == files[1].groups[0].interval == files[2].groups[0].interval == "5m"
    assert files[0].groups[1].rules == (checkpoint_rules(SLO)[2],)
    assert files[1].groups[0].rules == counter_rules(SLO)
    assert files[2].groups[0].rules == checkpoint_rules(SLO)[:2]


def test_group_order_is_the_generated_files_order_and_puts_readers_after() -> None:
    for name in ("alerts/generated/normalize.yaml", "slo/generated/slo-rules.yaml", "slo/generated/cost-rules.yaml"):
        groups = load_rule_groups(REPO / name)
        assert group_eval_order(groups) == [g.name for g in groups], name
    # An SLO's main group reads its long-window group, which reads its checkpoint group.
    checkpoints, long_windows, main = slo_groups(SLO)
    assert group_eval_order([main, long_windows, checkpoints]) == [checkpoints.name, long_windows.name, main.name]
    # Cost level 0 reads the normalized series: given first, it still goes after them.
    normalize, level0 = list(normalization_groups()), cost_groups(Pricing())[0]
    order = group_eval_order([level0, *normalize])
    assert order.index(level0.name) > max(order.index(g.name) for g in normalize if g.name.endswith(("gpu", "vllm")))
