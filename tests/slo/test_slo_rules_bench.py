"""bench/slo_rules_bench.py's pieces: the generated history, the equivalent Sloth spec and Pyrra's rule shape.

The benchmark itself (minutes per N) is not part of `make test`; these checks keep it runnable:
its history has exact counts the budgets are compared with, its hourly sums are what the
hourly group records, and every rule set it loads passes promtool.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from inferwatch.slo.model import compile_slo
from inferwatch.slo.windows import is_coarse, recorded_windows

from bench.slo_rules_bench import (
    DAY,
    SPEC,
    STEP,
    History,
    block_bounds,
    families,
    openmetrics,
    pyrra_rules,
    sloth_labels,
    sloth_rules,
    traffic,
    write_shard,
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
    rate, share = traffic(i, np.arange(h.end - window, h.end, STEP), h.start)
    total = math.fsum(rate * STEP)
    bad = math.fsum(rate * share * STEP)
    want = 1 - (bad / total) / SLO.error_budget
    got = h.expected_budget(i, window, SLO.error_budget)
    assert got is not None and math.isclose(got, want, rel_tol=1e-9)


def test_hourly_sums_are_what_the_hourly_group_records() -> None:
    """Each hourly sample sums the 5-minute rate samples of the hour before it, one hour apart."""
    h = _history(n=1)
    ks, good, total = h.hours[0]
    times = [h.times[k] for k in ks]
    assert [b - a for a, b in itertools.pairwise(times)] == [3600] * (len(times) - 1)
    hour = np.arange(h.index(times[-1] - 3600) + 1, h.index(times[-1]) + 1)
    assert math.isclose(total[-1], math.fsum(h.rate5m(h.total[0], hour)))
    assert math.isclose(good[-1], math.fsum(h.rate5m(h.good[0], hour)))


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


def test_block_files_together_hold_the_whole_history(tmp_path: Path) -> None:
    """The files written one per TSDB block hold exactly the samples of the single file, each block's within it."""
    h = _history(n=2, days=8)
    fams = families(h, SLO, {"sloth_slo": "chat-ttft"})
    whole = tmp_path / "whole.om"
    openmetrics(h, SLO, {"sloth_slo": "chat-ttft"}, whole)
    bounds = block_bounds(h)
    assert len(bounds) > 2  # eight days span more than one 162 h block
    lines: list[str] = []
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        path = tmp_path / f"{j}.om"
        write_shard(h, fams, lo, hi, path)
        shard = path.read_text().splitlines()[:-1]
        assert all(h.times[lo] <= int(ln.rsplit(" ", 1)[1]) < h.times[lo] + (hi - lo) * STEP for ln in shard)
        lines += shard
    assert sorted(lines) == sorted(whole.read_text().splitlines()[:-1])


def test_inferwatch_events_reach_back_as_far_as_its_rules_read_them(tmp_path: Path) -> None:
    """The 5-minute events cover the longest window read from them (and the hourly group's hour) before the end."""
    h = _history(n=1, days=2)
    path = tmp_path / "h.om"
    openmetrics(h, SLO, {}, path)
    times = [int(ln.rsplit(" ", 1)[1]) for ln in path.read_text().splitlines() if ln.startswith(c.TOTAL_EVENTS + "{")]
    longest = max(w for w in recorded_windows(SLO.period) if not is_coarse(w))
    assert min(times) <= h.end - longest.total_seconds() - 3600 and max(times) == h.end
