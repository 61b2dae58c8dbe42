"""promtool unit tests of the generated SLO rules, on Prometheus 3 and 2: pages, tickets and quiet stretches.

Input series are the normalized `inferwatch:*` rates the SLO rules read, one sample a minute.
Namespace `a` spells `le` as vLLM does ("1.0"), namespace `b` as Go clients and Prometheus 3
do ("1"), so every scenario also proves the `le` matching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.promql import escape_label_value
from inferwatch.rules import AlertingRule, dump_yaml, to_prometheus_yaml
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import alert_rules, slo_rule_file
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

COUNT = "inferwatch:vllm_ttft_seconds_count:rate5m"
BUCKET = "inferwatch:vllm_ttft_seconds_bucket:rate5m"
FINISHED = "inferwatch:vllm_requests_finished:rate5m"
HTTP = "inferwatch:vllm_http_requests:rate5m"


def _slo(**over: Any) -> SLO:
    spec = {
        "name": "ttft",
        "objective": 99.5,
        "sli": {"kind": "ttft", "threshold_seconds": 1.0},
        "group_by": ["namespace"],
    } | over
    slo, _ = compile_slo(SLOSpec.model_validate(spec), "test")
    return slo


TTFT = _slo()
AVAIL = _slo(name="avail", objective=99.0, sli={"kind": "availability"})
# Reasons full of regex and PromQL metacharacters: each must match exactly itself, once.
ODD_REASONS = ["err.*", "a|b", 'q"}\\', "error.oom"]
REASONS = _slo(name="reasons", objective=99.0, sli={"kind": "availability", "error_finished_reasons": ODD_REASONS})
# Every character a YAML reader or str.splitlines() takes for a line break, in one matcher value.
HOSTILE_NS = "a\rb\vc\fd\x1ce\x1df\x1eg\x85h\u2028i\u2029j\tk\x00l"
HOSTILE = _slo(name="hostile", matchers={"namespace": HOSTILE_NS})


def _hist(ns: str, le: str, total: str, good: str, pod: str = "p1") -> list[dict[str, str]]:
    labels = f'namespace="{ns}",model_name="m",pod="{pod}"'
    return [
        {"series": f"{COUNT}{{{labels}}}", "values": total},
        {"series": f'{BUCKET}{{{labels},le="{le}"}}', "values": good},
        # a bucket above the threshold must never be read as good
        {"series": f'{BUCKET}{{{labels},le="2.5"}}', "values": total},
    ]


def _annotations(slo: SLO, alert: str, value: str, ns: str) -> dict[str, str]:
    rule = next(r for r in alert_rules(slo) if isinstance(r, AlertingRule) and r.alert == alert)
    assert isinstance(rule, AlertingRule)
    return {
        k: v.replace("{{ $value | humanize }}", value).replace("{{ $labels.namespace }}", ns)
        for k, v in rule.annotations.items()
    }


def _alert(slo: SLO, alert: str, severity: str, ns: str, value: str) -> dict[str, Any]:
    return {
        "exp_labels": {"slo": slo.name, "severity": severity, "namespace": ns},
        "exp_annotations": _annotations(slo, alert, value, ns),
    }


def _hourly_weighted(good: list[float], total: list[float], at: int, prom2: bool) -> float:
    """Good / total as the long windows read it at minute ``at`` from hourly sums.

    promtool evaluates every group each minute (it ignores a group's interval), so the hourly
    sums overlap: each minute's events are counted once per sum that covers them, in good and
    total alike. The SLO group runs before the hourly group, so the sum of minute ``at`` is not
    read yet.
    """
    first = 0 if prom2 else 1  # Prometheus 2 ranges include the sample at t - w
    sums = [(s - 60 + first, s) for s in range(at)]
    g = sum(good[u] for lo, hi in sums for u in range(max(lo, 0), hi + 1))
    t = sum(total[u] for lo, hi in sums for u in range(max(lo, 0), hi + 1))
    return g / t


def _tests(prom2: bool) -> list[dict[str, Any]]:
    # Prometheus 2 range selectors include the sample at t - w, Prometheus 3's do not.
    fast_value = f"{13 / (61 if prom2 else 60) / 0.005:.4g}"
    long_burn = (1 - _hourly_weighted([100.0] * 60 + [0.0] * 61, [100.0] * 60 + [1.0] * 61, 120, prom2)) / 0.005
    return [
        {
            "name": "outage after a healthy stretch pages within minutes; the healthy namespace stays quiet",
            "interval": "1m",
            "input_series": [
                *_hist("a", "1.0", "10x180", "10x119 0x60"),
                *_hist("a", "1.0", "10x180", "10x119 0x60", pod="p2"),
                *_hist("b", "1", "5x180", "5x180"),
            ],
            "alert_rule_test": [
                {"eval_time": "119m", "alertname": c.ALERT_PAGE, "exp_alerts": []},
                {"eval_time": "123m", "alertname": c.ALERT_PAGE, "exp_alerts": []},
                {
                    "eval_time": "132m",
                    "alertname": c.ALERT_PAGE,
                    "exp_alerts": [_alert(TTFT, c.ALERT_PAGE, "page", "a", fast_value)],
                },
                {"eval_time": "132m", "alertname": c.ALERT_TICKET, "exp_alerts": []},
                {"eval_time": "132m", "alertname": c.ALERT_ABSENT, "exp_alerts": []},
            ],
        },
        {
            "name": "a slow burn (2x) opens a ticket but never pages",
            "interval": "1m",
            "input_series": [*_hist("b", "1", "10x480", "9.9x480")],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": c.ALERT_TICKET, "exp_alerts": []},
                {
                    "eval_time": "60m",
                    "alertname": c.ALERT_TICKET,
                    "exp_alerts": [_alert(TTFT, c.ALERT_TICKET, "ticket", "b", "2")],
                },
                {"eval_time": "8h", "alertname": c.ALERT_PAGE, "exp_alerts": []},
            ],
        },
        {
            "name": "traffic within budget (0.9x) and a stretch without traffic stay quiet and record no data",
            "interval": "1m",
            "input_series": [
                *_hist("a", "1.0", "10x300", "9.955x300"),
                # b: traffic stops after a healthy hour; its series stay, at rate 0
                *_hist("b", "1", "10x59 0x240", "10x59 0x240"),
            ],
            "alert_rule_test": [
                {"eval_time": "5h", "alertname": c.ALERT_PAGE, "exp_alerts": []},
                {"eval_time": "5h", "alertname": c.ALERT_TICKET, "exp_alerts": []},
                {"eval_time": "5h", "alertname": c.ALERT_ABSENT, "exp_alerts": []},
            ],
            "promql_expr_test": [
                {
                    # no traffic for the last 6h window: no data, neither 0 nor NaN
                    "expr": f'{c.BURN_RATE}{{namespace="b",window=~"5m|30m|1h|2h"}}',
                    "eval_time": "5h",
                    "exp_samples": [],
                },
                {"expr": f'{c.TOTAL_EVENTS}{{namespace="b"}}', "eval_time": "5h", "exp_samples": []},
            ],
        },
        {
            "name": "long windows are traffic-weighted, not an average of ratios",
            "interval": "1m",
            "input_series": [*_hist("a", "1.0", "100x59 1x60", "100x59 0x60")],
            "promql_expr_test": [
                {
                    # 6h reads the per-minute samples: exactly good / total
                    "expr": f'{c.BURN_RATE}{{slo="ttft",window="6h"}}',
                    "eval_time": "120m",
                    "exp_samples": [
                        {
                            "labels": f'{c.BURN_RATE}{{namespace="a",slo="ttft",window="6h"}}',
                            "value": (1 - 6000 / 6061) / 0.005,
                        }
                    ],
                },
                {
                    "expr": f'{c.BURN_RATE}{{slo="ttft",window="30d"}}',
                    "eval_time": "120m",
                    "exp_samples": [
                        {
                            "labels": f'{c.BURN_RATE}{{namespace="a",slo="ttft",window="30d"}}',
                            "value": long_burn,
                        }
                    ],
                },
                {
                    "expr": c.ERROR_BUDGET_REMAINING,
                    "eval_time": "120m",
                    "exp_samples": [
                        {
                            "labels": f'{c.ERROR_BUDGET_REMAINING}{{namespace="a",slo="ttft"}}',
                            "value": 1 - long_burn,
                        }
                    ],
                },
            ],
        },
        {
            "name": "one namespace stops reporting while another still does: the absent alert names it",
            "interval": "1m",
            "input_series": [
                *_hist("a", "1.0", "10x120", "10x120"),
                *_hist("b", "1", "5x59 _x61", "5x59 _x61"),
            ],
            "alert_rule_test": [
                {"eval_time": "60m", "alertname": c.ALERT_ABSENT, "exp_alerts": []},
                {
                    "eval_time": "90m",
                    "alertname": c.ALERT_ABSENT,
                    "exp_alerts": [
                        {
                            "exp_labels": {"slo": "ttft", "severity": "ticket", "namespace": "b"},
                            "exp_annotations": _annotations(TTFT, c.ALERT_ABSENT, "", "b"),
                        }
                    ],
                },
            ],
        },
        {
            "name": "missing SLI metrics raise the absent alert",
            "interval": "1m",
            "input_series": [{"series": 'up{job="vllm"}', "values": "1x60"}],
            "alert_rule_test": [
                {
                    "eval_time": "30m",
                    "alertname": c.ALERT_ABSENT,
                    "exp_alerts": [
                        {
                            "exp_labels": {"slo": "ttft", "severity": "ticket"},
                            "exp_annotations": _annotations(TTFT, c.ALERT_ABSENT, "", ""),
                        }
                    ],
                },
            ],
        },
        {
            "slo": AVAIL.name,
            "name": "availability: engine errors and HTTP 5xx burn the budget, aborts do not",
            "interval": "1m",
            "input_series": [
                {
                    "series": f'{FINISHED}{{namespace="a",model_name="m",pod="p1",finished_reason="stop"}}',
                    "values": "8x120",
                },
                {
                    "series": f'{FINISHED}{{namespace="a",model_name="m",pod="p1",finished_reason="abort"}}',
                    "values": "1x120",
                },
                {
                    "series": f'{FINISHED}{{namespace="a",model_name="m",pod="p1",finished_reason="error"}}',
                    "values": "0.5x120",
                },
                {"series": f'{HTTP}{{namespace="a",pod="p1",status="5xx"}}', "values": "0.5x120"},
                {"series": f'{HTTP}{{namespace="a",pod="p1",status="2xx"}}', "values": "9x120"},
                # namespace b: the engine is down, only 5xx answers: all bad, not "no data"
                {"series": f'{HTTP}{{namespace="b",pod="p2",status="5xx"}}', "values": "2x120"},
            ],
            "promql_expr_test": [
                {
                    "expr": f'{c.BURN_RATE}{{slo="avail",window="1h"}}',
                    "eval_time": "100m",
                    "exp_samples": [
                        # bad = 0.5 error + 0.5 5xx of 10 events: 10 % / 1 % budget
                        {
                            "labels": f'{c.BURN_RATE}{{namespace="a",slo="avail",window="1h"}}',
                            "value": (1 - 540 / 600) / 0.01,
                        },
                        {"labels": f'{c.BURN_RATE}{{namespace="b",slo="avail",window="1h"}}', "value": 100},
                    ],
                },
            ],
        },
        {
            "slo": REASONS.name,
            "name": 'error reasons are matched literally: err.*, a|b, q"}\\ and error.oom count, look-alikes do not',
            "interval": "1m",
            "input_series": [
                *(
                    {
                        "series": f'{FINISHED}{{namespace="a",pod="p1",finished_reason="{escape_label_value(r)}"}}',
                        "values": "1x120",
                    }
                    for r in [*ODD_REASONS, "errx", "a", "q", "errorXoom", "stop"]
                ),
            ],
            "promql_expr_test": [
                {
                    "expr": f'{c.BURN_RATE}{{slo="reasons",window="1h"}}',
                    "eval_time": "100m",
                    # 4 of 9 finished requests are errors: 44.4 % bad / 1 % budget
                    "exp_samples": [
                        {"labels": f'{c.BURN_RATE}{{namespace="a",slo="reasons",window="1h"}}', "value": (4 / 9) / 0.01}
                    ],
                },
            ],
        },
        {
            "slo": HOSTILE.name,
            "name": "a matcher value holding line-break and control characters selects exactly that series",
            "interval": "1m",
            "input_series": [
                *_hist(escape_label_value(HOSTILE_NS), "1.0", "10x60", "10x60"),
                *_hist(escape_label_value(HOSTILE_NS[:-1]), "1.0", "10x60", "10x60"),
                *_hist("a", "1.0", "10x60", "10x60"),
            ],
            "promql_expr_test": [
                {
                    "expr": c.TOTAL_EVENTS,
                    "eval_time": "30m",
                    "exp_samples": [
                        {
                            "labels": f'{c.TOTAL_EVENTS}{{namespace="{escape_label_value(HOSTILE_NS)}",slo="hostile"}}',
                            "value": 10,
                        }
                    ],
                },
            ],
        },
    ]


def _write(tmp_path: Path, prom2: bool) -> list[Path]:
    """One rule file and one test file per SLO, so one SLO's absent alert never shows in the other's tests."""
    out = []
    tests = _tests(prom2)
    for slo in (TTFT, AVAIL, REASONS, HOSTILE):
        rules = tmp_path / f"{slo.name}-rules.yaml"
        rules.write_text(to_prometheus_yaml(slo_rule_file([slo])))
        mine = [{k: v for k, v in t.items() if k != "slo"} for t in tests if t.get("slo", TTFT.name) == slo.name]
        test_file = tmp_path / f"{slo.name}-tests.yaml"
        test_file.write_text(dump_yaml(unit_test_doc(tmp_path, [rules.name], mine)))
        out.append(test_file)
    return out


@pytest.mark.parametrize("tool", ["promtool", "promtool2"])
def test_promtool_unit_tests_pass(tools: Toolbox, tmp_path: Path, tool: str) -> None:
    """Every scenario above holds on Prometheus 3 (promtool) and Prometheus 2.42 (promtool2)."""
    test_files = _write(tmp_path, prom2=tool == "promtool2")
    proc = tools.run(tool, "test", "rules", *map(str, test_files), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_expectation_fails(tools: Toolbox, tmp_path: Path) -> None:
    """The harness can fail: a slow burn asserted to page is reported as a failure."""
    test_file = _write(tmp_path, prom2=False)[0]
    data = yaml.safe_load(test_file.read_text())
    data["tests"][1]["alert_rule_test"][2]["exp_alerts"] = [_alert(TTFT, c.ALERT_PAGE, "page", "b", "2")]
    test_file.write_text(dump_yaml(data))
    proc = tools.run("promtool", "test", "rules", str(test_file), timeout=300)
    assert proc.returncode != 0
    assert c.ALERT_PAGE in proc.stdout + proc.stderr
