"""promtool unit tests of the SLO checkpoints, coverage and recording-gap alert, on Prometheus 3 and 2.

The checkpoints must count every event the counters hold: across a stretch with no scrapes (an
incident inside it), across a pod's restart, from a new pod's first value and to an ended pod's
last one. Coverage and the recording-gap alert are tested from their inputs (heartbeats,
coverage series): promtool evaluates every group each minute, so it cannot leave a gap in a
rule's own output — tests/slo/test_restart_e2e.py stops a real Prometheus for that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.rules import AlertingRule, RuleFile, dump_yaml, to_prometheus_yaml
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import alert_rules, slo_groups
from inferwatch.slo.windows import CHECKPOINT_INTERVAL
from inferwatch.tools import Toolbox
from tests.slo.promtool_inputs import (
    BUCKET,
    BUCKET_SUM,
    COUNT,
    COUNT_SUM,
    at_its_interval,
    close,
    counter,
    events,
    expand,
    notation,
    only_when,
    write_rules,
)
from tests.support.promtool import unit_test_doc

SPEC = {"name": "ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}, "group_by": ["namespace"]}
TTFT: SLO = compile_slo(SLOSpec.model_validate(SPEC), "test")[0]
BUDGET = 0.005

# A pod scraped for 300 minutes; nothing is scraped from minute 120 to 209 while its counters go
# on counting, and an incident (half the requests slow) runs from minute 150 to 229.
N = 300
GAP = range(120, 210)
TOTAL = [10.0] * (N + 1)
GOOD = [5.0 if 150 <= m < 230 else 9.95 for m in range(N + 1)]


def _gapped(values: list[float | None]) -> list[float | None]:
    return [None if m in GAP else v for m, v in enumerate(values)]


def _gap_inputs() -> list[dict[str, str]]:
    labels = 'namespace="a",model_name="m",pod="p1"'
    return [
        {"series": f"{COUNT}{{{labels}}}", "values": notation(_gapped(list(TOTAL)))},
        {"series": f'{BUCKET}{{{labels},le="1.0"}}', "values": notation(_gapped(list(GOOD)))},
        {"series": f"{COUNT_SUM}{{{labels}}}", "values": notation(_gapped(counter(TOTAL)))},
        {"series": f'{BUCKET_SUM}{{{labels},le="1.0"}}', "values": notation(_gapped(counter(GOOD, 900_000.0)))},
    ]


def _exact_burn(good: list[float | None], total: list[float | None], after: int, until: int) -> float:
    return (1 - events(good, after, until) / events(total, after, until)) / BUDGET


def _burn(window: str) -> str:
    return f'{c.BURN_RATE}{{slo="ttft",namespace="a",window="{window}"}}'


def _gap_test() -> dict[str, Any]:
    """No scrapes for 90 minutes with an incident inside: every window spanning the gap counts it."""
    good, total = list[float | None](GOOD), list[float | None](TOTAL)
    # the last counter value before the gap (minute 119) is still a checkpoint inside a 2 h window at 240
    return {
        "name": "a stretch without scrapes holding an incident: windows spanning it count every event",
        "interval": "1m",
        "input_series": _gap_inputs(),
        "promql_expr_test": [
            close(_burn("6h"), _exact_burn(good, total, 0, 240), "240m"),
            close(_burn("2h"), _exact_burn(good, total, 119, 240), "240m"),
            # the SLO window from the hourly checkpoints (0, 60, the gap's edges, 240: each recorded a
            # minute later), as the long-window group's next run (every 5 minutes) sums them
            close(_burn("30d"), _exact_burn(good, total, 0, 240), "245m"),
            close(
                f'{c.ERROR_BUDGET_REMAINING}{{slo="ttft",namespace="a"}}', 1 - _exact_burn(good, total, 0, 240), "245m"
            ),
        ],
        "alert_rule_test": [
            # the 1 h window holds no checkpoint before the gap: it counts from the first two after
            # it (runs at 210 and 215), both in the incident's tail; a page 2 m on
            {"eval_time": "216m", "alertname": c.ALERT_PAGE, "exp_alerts": []},
            {
                "eval_time": "217m",
                "alertname": c.ALERT_PAGE,
                # the value: the 1 h window's burn rate, all of it the incident's half-slow requests
                "exp_alerts": [
                    {
                        "exp_labels": {"slo": "ttft", "severity": "page", "namespace": "a"},
                        "exp_annotations": _page_annotations("100"),
                    }
                ],
            },
        ],
    }


def _churn_inputs() -> tuple[list[dict[str, str]], list[float], list[float]]:
    """Three pods of one namespace: p1 restarts at minute 100, p2 starts at 60 (slow first minutes), p3 ends at 150.

    Returns the input series and the good and total events of each minute over all pods.
    """
    series: list[dict[str, str]] = []
    good_sum, total_sum = [0.0] * (N + 1), [0.0] * (N + 1)
    pods: dict[str, tuple[int, int, float, Callable[[int], float]]] = {
        "p1": (0, N, 10.0, lambda m: 9.95),
        "p2": (60, N, 4.0, lambda m: 1.0 if m < 70 else 3.99),
        "p3": (0, 150, 6.0, lambda m: 5.97),
    }
    for pod, (first, last, rate, good_rate) in pods.items():
        total: list[float | None] = []
        good: list[float | None] = []
        t_value = g_value = 0.0 if pod == "p2" else 500_000.0
        for m in range(N + 1):
            if not first <= m <= last:
                total.append(None)
                good.append(None)
                continue
            if m > first:
                t_value += rate * 60
                g_value += good_rate(m) * 60
                total_sum[m] += rate * 60
                good_sum[m] += good_rate(m) * 60
            if pod == "p1" and m == 100:  # the process restarted: this minute's events since 0
                t_value, g_value = rate * 60, good_rate(m) * 60
            total.append(t_value)
            good.append(g_value)
        labels = f'namespace="a",model_name="m",pod="{pod}"'
        series += [
            {"series": f"{COUNT_SUM}{{{labels}}}", "values": notation(total)},
            {"series": f'{BUCKET_SUM}{{{labels},le="1.0"}}', "values": notation(good)},
        ]
    # the 5-minute rates the 5-minute window reads (their counters play no part here)
    rates = 'namespace="a",model_name="m",pod="p1"'
    series += [
        {"series": f"{COUNT}{{{rates}}}", "values": "20x300"},
        {"series": f'{BUCKET}{{{rates},le="1.0"}}', "values": "19.9x300"},
    ]
    return series, good_sum, total_sum


def _churn_test() -> dict[str, Any]:
    """A restart, a new pod and an ended pod: the windows count each pod's events, none twice."""
    inputs, good, total = _churn_inputs()
    exact = (1 - sum(good[1:241]) / sum(total[1:241])) / BUDGET
    # Prometheus extrapolates each pod's increase past its first and last checkpoint when they lie
    # inside the window (p1's first, p3's last): half a checkpoint step of their own traffic, at
    # their own error ratio; within 1 % of the burn rate here.
    return {
        "name": "a pod restart, a new pod and an ended pod: every event counted once",
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [close(_burn("6h"), exact, "240m", tolerance=0.01)],
    }


# Pods of namespace "b" (total counters, a value a minute) whose events the hourly checkpoints must
# copy from the 5-minute ones (taken every 5 minutes from minute 0, each copied a run later):
# r1 starts at 0 and resets at minute 12, between runs; r2's first value is at 67, between runs;
# r3 resets at 70, on a run; r4's last value is at 80.
_BOUNDARY_PODS: dict[str, list[float | None]] = {
    "r1": [600.0 * m if m < 12 else 600.0 * (m - 11) for m in range(131)],
    "r2": [None] * 67 + [1000.0 + 600 * (m - 67) for m in range(67, 131)],
    "r3": [50_000.0 + 600 * m if m < 70 else 600.0 * (m - 69) for m in range(131)],
    "r4": [70_000.0 + 600 * m for m in range(81)],
}
_RUN = int(CHECKPOINT_INTERVAL.total_seconds() // 60)


def _coarse(pod: str) -> str:
    return f'{c.TOTAL_CHECKPOINT_COARSE}{{slo="ttft",namespace="b",pod="{pod}"}}'


def _at(pod: str, minute: int, value: float | None) -> dict[str, Any]:
    """The hourly checkpoint copied from the 5-minute one of ``minute`` (None: not copied), recorded a run later."""
    labels = f'{{namespace="b",pod="{pod}",slo="ttft"}}'
    samples = [] if value is None else [{"labels": labels, "value": value}]
    expr = f"sum by (namespace, pod, slo) (last_over_time({_coarse(pod)}[30s]))"  # no name on either engine
    return {"expr": expr, "eval_time": f"{minute + _RUN}m", "exp_samples": samples}


def _boundary_test() -> dict[str, Any]:
    """Every event of the 5-minute checkpoints reaches the hourly ones; a plain 5-minute checkpoint does not."""
    pods = _BOUNDARY_PODS
    series = [
        {"series": f'{COUNT_SUM}{{namespace="b",model_name="m",pod="{pod}"}}', "values": notation(values)}
        for pod, values in pods.items()
    ]
    return {
        "name": "events of the 5-minute checkpoints reach the hourly checkpoints",
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            _at("r1", 0, pods["r1"][0]),  # the first value
            _at("r1", 5, pods["r1"][5]),  # and the one after it
            _at("r1", 10, pods["r1"][10]),  # the last before the reset (minute 11's events are lost)
            _at("r1", 15, pods["r1"][15]),  # the first after it
            _at("r1", 20, None),
            _at("r1", 25, None),
            _at("r1", 60, pods["r1"][60]),  # the hour
            _at("r2", 70, pods["r2"][70]),  # the first value, at the first run after minute 67
            _at("r2", 75, pods["r2"][75]),
            _at("r2", 80, None),
            _at("r2", 120, pods["r2"][120]),
            _at("r3", 65, pods["r3"][65]),  # the value before the reset
            _at("r3", 70, pods["r3"][70]),  # the one after it
            _at("r3", 75, None),
            # the last value, whenever the counter is gone
            {
                "expr": f"sum by (namespace, pod, slo) (max_over_time({_coarse('r4')}[39m]))",
                "eval_time": "99m",
                "exp_samples": [{"labels": '{namespace="b",pod="r4",slo="ttft"}', "value": pods["r4"][80]}],
            },
            _at("r4", 75, None),
        ],
    }


# Prometheus down from minute 202 to 209 (no scrape, no rule run: the checkpoint run of 205 missed),
# restarted at 209; its checkpoint group runs at 210 before the normalized-counter group first runs
# again (211). The pod's counter counts on throughout (a value a minute).
_DOWN = (202, 210)
_RESTART_POD = [600.0 * m if not _DOWN[0] <= m <= _DOWN[1] else None for m in range(231)]


def _fine(minute: int, value: float | None) -> dict[str, Any]:
    labels = f'{c.TOTAL_CHECKPOINT_FINE}{{namespace="c",pod="q1",slo="ttft"}}'
    return {
        "expr": f'{c.TOTAL_CHECKPOINT_FINE}{{slo="ttft",namespace="c"}}',
        "eval_time": f"{minute}m",
        "exp_samples": [] if value is None else [{"labels": labels, "value": value}],
    }


def _restart_test() -> dict[str, Any]:
    """The first checkpoint after Prometheus restarts holds no counter read before it stopped."""
    return {
        "name": "a checkpoint-group run before the normalized counters' first run after a restart records nothing",
        "interval": "1m",
        "input_series": [
            {"series": f'{COUNT_SUM}{{namespace="c",model_name="m",pod="q1"}}', "values": notation(_RESTART_POD)}
        ],
        "promql_expr_test": [
            _fine(200, _RESTART_POD[200]),
            # the counter's last value (minute 201) would stand for minute 210 and leave out the stop's events
            _fine(210, None),
            _fine(215, _RESTART_POD[215]),
        ],
    }


def _heartbeats(pattern: str) -> str:
    """Heartbeat samples (values: their minute * 60) every 5 minutes where ``pattern`` has a 1."""
    values = expand(pattern)
    return notation([m * 60.0 if v and m % 5 == 0 else None for m, v in enumerate(values)])


def _coverage_test() -> dict[str, Any]:
    """Coverage: heartbeats present over due, per window, from the heartbeats alone."""
    beat = f'{c.RECORDING_HEARTBEAT}{{slo="ttft"}}'
    # recorded for 150 minutes, a 30-minute gap (minutes 150-179), recorded again: the hour to 202
    # holds the heartbeats of minutes 145 and 180 to 200. (Evaluated between heartbeats, as the
    # long-window group is in Prometheus, which gives each group its own offset: Prometheus 2's
    # ranges, which include their start, then count the same.)
    pattern = "1x149 0x29 1x60"

    def cov(window: str) -> str:
        return f'{c.RECORDING_COVERAGE}{{slo="ttft",window="{window}"}}'

    return {
        "name": "coverage counts the heartbeats of each window",
        "interval": "1m",
        "input_series": [{"series": beat, "values": _heartbeats(pattern)}],
        "promql_expr_test": [
            {"expr": cov("1h"), "eval_time": "202m", "exp_samples": [{"labels": cov("1h"), "value": 6 / 12}]},
            {"expr": cov("30m"), "eval_time": "142m", "exp_samples": [{"labels": cov("30m"), "value": 1}]},
            {"expr": cov("6h"), "eval_time": "242m", "exp_samples": [{"labels": cov("6h"), "value": 43 / 72}]},
        ],
    }


def _page_annotations(value: str) -> dict[str, str]:
    rule = next(r for r in alert_rules(TTFT) if isinstance(r, AlertingRule) and r.alert == c.ALERT_PAGE)
    return {
        k: v.replace("{{ $value | humanize }}", value).replace("{{ $labels.namespace }}", "a")
        for k, v in rule.annotations.items()
    }


def _gap_annotations(reason: str, value: str) -> dict[str, str]:
    rule = next(r for r in alert_rules(TTFT) if isinstance(r, AlertingRule) and r.alert == c.ALERT_RECORDING_GAP)
    return {
        k: v.replace("{{ $value | humanizePercentage }}", value).replace(
            f"{{{{ $labels.{c.GAP_REASON_LABEL} }}}}", reason
        )
        for k, v in rule.annotations.items()
    }


def _gap_alert(reason: str, value: str) -> dict[str, Any]:
    return {
        "exp_labels": {"slo": "ttft", "severity": "ticket", c.GAP_REASON_LABEL: reason},
        "exp_annotations": _gap_annotations(reason, value),
    }


def _alert_tests() -> list[dict[str, Any]]:
    """InferwatchSLORecordingGap from its inputs: coverage series and heartbeats, as the groups record them."""

    def cov(window: str, values: str) -> dict[str, str]:
        return {"series": f'{c.RECORDING_COVERAGE}{{slo="ttft",window="{window}"}}', "values": values}

    beat = {"series": f'{c.RECORDING_HEARTBEAT}{{slo="ttft"}}', "values": _heartbeats("1x120")}
    return [
        {
            "name": "a gap within the last hour of a long recording: a ticket with the hour's coverage",
            "interval": "1m",
            "input_series": [beat, cov("1h", "1x59 0.5x60"), cov("30d", "0.9x120")],
            "alert_rule_test": [
                {"eval_time": "70m", "alertname": c.ALERT_RECORDING_GAP, "exp_alerts": []},
                {
                    "eval_time": "80m",
                    "alertname": c.ALERT_RECORDING_GAP,
                    "exp_alerts": [_gap_alert(c.GAP_REASON_GAP, "50%")],
                },
            ],
        },
        {
            "name": "a recording younger than the gap window is not a gap; a whole hour is quiet",
            "interval": "1m",
            "input_series": [
                beat,
                cov("1h", "0.5x120"),
                cov("30d", "0.001x120"),
                {"series": f'{c.RECORDING_COVERAGE}{{slo="other",window="1h"}}', "values": "1x120"},
            ],
            "alert_rule_test": [{"eval_time": "100m", "alertname": c.ALERT_RECORDING_GAP, "exp_alerts": []}],
        },
        {
            "name": "the checkpoint group stops, then the long-window group: each named",
            "interval": "1m",
            "input_series": [
                {"series": beat["series"], "values": _heartbeats("1x30 0x150")},
                cov("1h", "1x90 _x90"),
                cov("30d", "1x90 _x90"),
            ],
            "alert_rule_test": [
                {"eval_time": "50m", "alertname": c.ALERT_RECORDING_GAP, "exp_alerts": []},
                {
                    "eval_time": "70m",
                    "alertname": c.ALERT_RECORDING_GAP,
                    "exp_alerts": [_gap_alert(c.GAP_REASON_CHECKPOINTS, "100%")],
                },
                {
                    "eval_time": "130m",
                    "alertname": c.ALERT_RECORDING_GAP,
                    "exp_alerts": [
                        _gap_alert(c.GAP_REASON_CHECKPOINTS, "100%"),
                        _gap_alert(c.GAP_REASON_LONG_WINDOWS, "100%"),
                    ],
                },
            ],
        },
    ]


def _write(tmp_path: Path) -> list[Path]:
    """The checkpoint scenarios over the SLO's groups; the alert scenarios over its main group alone."""
    rules = write_rules(tmp_path / "slo-rules.yaml", TTFT)
    checkpoints, long_windows, main = slo_groups(TTFT)
    alone = tmp_path / "main-rules.yaml"
    alone.write_text(to_prometheus_yaml(RuleFile((main,))))
    restart = tmp_path / "restart-rules.yaml"
    up = f"vector(time()) < {_DOWN[0] * 60} or vector(time()) >= {_DOWN[1] * 60}"  # Prometheus down over `_DOWN`
    restart.write_text(to_prometheus_yaml(RuleFile((only_when(at_its_interval(checkpoints), up),))))
    coverage = tmp_path / "long-rules.yaml"
    coverage.write_text(to_prometheus_yaml(RuleFile((long_windows,))))
    files = {
        "checkpoints": ([rules], [_gap_test(), _churn_test(), _boundary_test()]),
        "restart": ([restart.name], [_restart_test()]),
        "coverage": ([coverage.name], [_coverage_test()]),
        "alert": ([alone.name], _alert_tests()),
    }
    out = []
    for name, (rule_files, tests) in files.items():
        path = tmp_path / f"{name}-tests.yaml"
        path.write_text(dump_yaml(unit_test_doc(tmp_path, rule_files, tests)))
        out.append(path)
    return out


@pytest.mark.parametrize("tool", ["promtool", "promtool2"])
def test_checkpoint_scenarios_pass(tools: Toolbox, tmp_path: Path, tool: str) -> None:
    """Every scenario above holds on Prometheus 3 (promtool) and Prometheus 2.42 (promtool2)."""
    proc = tools.run(tool, "test", "rules", *map(str, _write(tmp_path)), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
