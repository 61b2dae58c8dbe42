"""bench/slo_rules_bench.py's pieces: the generated history, the equivalent Sloth spec and Pyrra's rule shape.

The benchmark itself (minutes per N) is not part of `make test`; these checks keep it runnable:
its history has exact counts the budgets are compared with, its hourly sums are what the
hourly group records, and every rule set it loads passes promtool.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from inferwatch.slo.model import compile_slo

from bench.slo_rules_bench import (
    DAY,
    SPEC,
    STEP,
    History,
    _hourly_sums,
    openmetrics,
    pyrra_rules,
    sloth_labels,
    sloth_rules,
    traffic,
)
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.rules import to_prometheus_yaml
from inferwatch.tools import Toolbox

SLO = compile_slo(SLOSpec.model_validate(SPEC), "test")[0]


def _history(n: int = 4, days: float = 1.0) -> History:
    end = 1_700_000_000.0
    h = History(n, end - days * DAY - 7200, end)
    h.build()
    return h


def test_history_counts_are_exact_integrals_of_the_traffic() -> None:
    """The expected budget is 1 - (bad / total) / budget over the window, from the traffic function itself."""
    h = _history()
    i = 1
    window = 6 * 3600
    ts = range(int(h.end - window), int(h.end), STEP)
    total = sum(traffic(i, t, h.start)[0] * STEP for t in ts)
    bad = sum(traffic(i, t, h.start)[0] * traffic(i, t, h.start)[1] * STEP for t in ts)
    want = 1 - (bad / total) / SLO.error_budget
    got = h.expected_budget(i, window, SLO.error_budget)
    assert got is not None and math.isclose(got, want, rel_tol=1e-9)


def test_hourly_sums_are_what_the_hourly_group_records() -> None:
    """Each hourly sample sums the 5-minute rate samples of the hour before it, one hour apart."""
    h = _history(n=1)
    hours = _hourly_sums(h, h.good[0], h.total[0])
    assert [b[0] - a[0] for a, b in itertools.pairwise(hours)] == [3600] * (len(hours) - 1)
    t_last, good, total = hours[-1]
    ks = range(h.index(t_last - 3600) + 1, h.index(t_last) + 1)
    assert math.isclose(total, sum(h.rate5m(h.total[0], k) for k in ks))
    assert math.isclose(good, sum(h.rate5m(h.good[0], k) for k in ks))


def test_openmetrics_history_holds_every_rule_sets_inputs(tmp_path: Path) -> None:
    """Raw counters, inferwatch's recorded and hourly series and Sloth's ratios, families kept together."""
    h = _history(n=2, days=0.5)
    path = tmp_path / "h.om"
    n = openmetrics(h, SLO, {"sloth_slo": "chat-ttft", "sloth_window": "5m"}, path)
    text = path.read_text()
    assert text.endswith("# EOF\n") and n == text.count("\n") - 1
    names = [line.split("{", 1)[0] for line in text.splitlines()[:-1]]
    for name in (
        "vllm:time_to_first_token_seconds_count",
        c.GOOD_EVENTS,
        c.TOTAL_EVENTS_HOURLY,
        "slo:sli_error:ratio_rate5m",
    ):
        assert name in names
    # each namespace's series carry its own counts
    for i in range(2):
        last = [
            ln
            for ln in text.splitlines()
            if ln.startswith(f'vllm:time_to_first_token_seconds_count{{model_name="m",namespace="ns-{i:04d}"')
        ][-1]
        assert float(last.split()[1]) == h.total[i][-1]
    assert h.total[0][-1] != h.total[1][-1]
    # one family's lines are contiguous (OpenMetrics forbids interleaving)
    starts = [i for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
    assert len(starts) == len(set(names))


@pytest.mark.parametrize("tool", ["promtool", "promtool2"])
def test_pyrra_shape_passes_promtool(tools: Toolbox, tmp_path: Path, tool: str) -> None:
    """Pyrra's rule shape as the benchmark loads it is valid on Prometheus 3 and 2."""
    rules = tmp_path / "pyrra.yaml"
    rules.write_text(to_prometheus_yaml(pyrra_rules(SLO)))
    proc = tools.run(tool, "check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_real_sloth_generates_rules_from_the_equivalent_spec(tools: Toolbox, tmp_path: Path) -> None:
    """The pinned Sloth turns the benchmark's spec into rules promtool accepts, with the labels it backfills."""
    rules = sloth_rules(tools, SLO, tmp_path)
    proc = tools.run("promtool", "check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    labels = sloth_labels(rules)
    assert labels.get("sloth_slo") == "chat-ttft" and labels.get("sloth_window") == "5m"
    assert f"slo:sli_error:ratio_rate{SLO.window}" in rules.read_text()
