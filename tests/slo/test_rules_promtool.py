"""promtool unit tests of the generated SLO rules, on Prometheus 3 and 2: pages, tickets and quiet stretches.

Input series are the normalized `inferwatch:*` rates and counters the SLO rules read, one sample
a minute (tests/slo/promtool_inputs.py). Namespace `a` spells `le` as vLLM does ("1.0"),
namespace `b` as Go clients and Prometheus 3 do ("1"), so every scenario also proves the `le`
matching. Windows longer than 5 minutes count the events between checkpoints of the counters
(every 5 minutes, every hour, and where a counter starts); the expected figures say which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.promql import escape_label_value
from inferwatch.rules import AlertingRule, dump_yaml
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import alert_rules
from inferwatch.tools import Toolbox
from tests.slo.promtool_inputs import (
    FINISHED,
    FINISHED_SUM,
    HTTP,
    HTTP_SUM,
    burn,
    close,
    expand,
    hist,
    pair,
    write_rules,
)
from tests.support.promtool import unit_test_doc


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


def _tests(prom2: bool) -> list[dict[str, Any]]:
    # The 1-hour window at minute 132 spans the 5-minute checkpoints of minutes 75 to 130 (72 is
    # not a checkpoint, so Prometheus 2's ranges, which include the sample at t - w, agree).
    outage_total, outage_good = expand("10x180"), expand("10x119 0x60")
    fast_value = f"{burn(outage_good, outage_total, 75, 130, 0.005):.4g}"
    # Every window at minute 125 spans the counter from its first value (minute 0) to its last
    # (minute 120): 6 h from the 5-minute checkpoints, 30 d from the hourly ones (0, 60, and 120,
    # copied from the 5-minute one at minute 125, and read by the long-window group right after).
    weighted_total, weighted_good = expand("100x59 1x60"), expand("100x59 0x60")
    long_burn = burn(weighted_good, weighted_total, 0, 120, 0.005)
    return [
        {
            "name": "outage after a healthy stretch pages within minutes; the healthy namespace stays quiet",
            "interval": "1m",
            "input_series": [
                *hist("a", "1.0", "10x180", "10x119 0x60"),
                *hist("a", "1.0", "10x180", "10x119 0x60", pod="p2"),
                *hist("b", "1", "5x180", "5x180"),
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
            # the long windows count from the first two runs' checkpoints on (minutes 0 and 5, the
            # second copied at 10): a ticket 15 minutes later
            "name": "a slow burn (2x) opens a ticket but never pages",
            "interval": "1m",
            "input_series": [*hist("b", "1", "10x480", "9.9x480")],
            "alert_rule_test": [
                {"eval_time": "24m", "alertname": c.ALERT_TICKET, "exp_alerts": []},
                {
                    "eval_time": "25m",
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
                *hist("a", "1.0", "10x300", "9.955x300"),
                # b: traffic stops after a healthy hour; its series stay, at rate 0
                *hist("b", "1", "10x59 0x240", "10x59 0x240"),
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
            "input_series": [*hist("a", "1.0", "100x59 1x60", "100x59 0x60")],
            "promql_expr_test": [
                # 6h counts from the 5-minute checkpoints, 30d from the hourly ones: good / total of
                # the events, to the float's last digits
                close(f'{c.BURN_RATE}{{slo="ttft",window="6h",namespace="a"}}', long_burn, "125m"),
                close(f'{c.BURN_RATE}{{slo="ttft",window="30d",namespace="a"}}', long_burn, "125m"),
                close(f'{c.ERROR_BUDGET_REMAINING}{{slo="ttft",namespace="a"}}', 1 - long_burn, "125m"),
            ],
        },
        {
            "name": "one namespace stops reporting while another still does: the absent alert names it",
            "interval": "1m",
            "input_series": [
                *hist("a", "1.0", "10x120", "10x120"),
                *hist("b", "1", "5x59 _x61", "5x59 _x61"),
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
                *pair(FINISHED, FINISHED_SUM, 'namespace="a",model_name="m",pod="p1",finished_reason="stop"', "8x120"),
                *pair(FINISHED, FINISHED_SUM, 'namespace="a",model_name="m",pod="p1",finished_reason="abort"', "1x120"),
                *pair(
                    FINISHED, FINISHED_SUM, 'namespace="a",model_name="m",pod="p1",finished_reason="error"', "0.5x120"
                ),
                *pair(HTTP, HTTP_SUM, 'namespace="a",pod="p1",status="5xx"', "0.5x120"),
                *pair(HTTP, HTTP_SUM, 'namespace="a",pod="p1",status="2xx"', "9x120"),
                # namespace b: the engine is down, only 5xx answers: all bad, not "no data"
                *pair(HTTP, HTTP_SUM, 'namespace="b",pod="p2",status="5xx"', "2x120"),
            ],
            "promql_expr_test": [
                # bad = 0.5 error + 0.5 5xx of 10 events: 10 % / 1 % budget (to the float's last digits)
                close(f'{c.BURN_RATE}{{slo="avail",window="1h",namespace="a"}}', 10, "100m"),
                {
                    "expr": f'{c.BURN_RATE}{{slo="avail",window="1h",namespace="b"}}',
                    "eval_time": "100m",
                    "exp_samples": [
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
                    series
                    for r in [*ODD_REASONS, "errx", "a", "q", "errorXoom", "stop"]
                    for series in pair(
                        FINISHED,
                        FINISHED_SUM,
                        f'namespace="a",pod="p1",finished_reason="{escape_label_value(r)}"',
                        "1x120",
                    )
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
                *hist(escape_label_value(HOSTILE_NS), "1.0", "10x60", "10x60"),
                *hist(escape_label_value(HOSTILE_NS[:-1]), "1.0", "10x60", "10x60"),
                *hist("a", "1.0", "10x60", "10x60"),
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
        rules = write_rules(tmp_path / f"{slo.name}-rules.yaml", slo)
        mine = [{k: v for k, v in t.items() if k != "slo"} for t in tests if t.get("slo", TTFT.name) == slo.name]
        test_file = tmp_path / f"{slo.name}-tests.yaml"
        test_file.write_text(dump_yaml(unit_test_doc(tmp_path, [rules], mine)))
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
