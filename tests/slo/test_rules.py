"""The SLO rule generator: normalized inputs only, few rules, scaled windows, committed output, valid objects."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.alerts.normalize import NORMALIZE_GROUP_PREFIX
from inferwatch.app.cli import cli
from inferwatch.config import load_config
from inferwatch.config.slo import SLOSpec
from inferwatch.conventions import slo as c
from inferwatch.reference import reference_path
from inferwatch.rules import AlertingRule, RecordingRule, dump_yaml, to_prometheus_yaml
from inferwatch.slo.generate import PROMETHEUS_RULE_PATH, RULES_PATH, artifacts
from inferwatch.slo.model import SLO, compile_slo
from inferwatch.slo.rules import rule_counts, slo_rule_file
from inferwatch.slo.windows import (
    GOOGLE_30D,
    LONG_WINDOWS_INTERVAL,
    format_duration,
    is_coarse,
    parse_duration,
    recorded_windows,
    windows_for,
)
from inferwatch.tools import Toolbox
from tests.support.promtool import group_order

SLOTH_RULES_PER_SLO = 17
# a 30-day SLO: main group 13 (2 event rates, 6 burn-rate rules: one for each of the 5 windows under
# a day, one for the longer ones; budget, 4 alerts), checkpoints 5, long windows 3
RULES_PER_SLO = 21
RAW = re.compile(r"\b(vllm:[a-z0-9_]+|DCGM_[A-Z_]+|inferwatch_[a-z_]+|http_requests_total)\b")
# The CRD `inferwatch build` validates PrometheusRule objects with (bundled in the package).
REFERENCE = reference_path("prometheus-operator-crds", "monitoring.coreos.com_prometheusrules.yaml")


def _slo(**over: Any) -> SLO:
    spec = {"name": "s", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}} | over
    slo, _ = compile_slo(SLOSpec.model_validate(spec), "test")
    return slo


ALL_KINDS = [
    _slo(name="ttft", group_by=["namespace"]),
    _slo(name="tpot", sli={"kind": "tpot", "threshold_seconds": 0.1}, group_by=["namespace", "model_name"]),
    _slo(name="e2e", sli={"kind": "e2e", "threshold_seconds": 10.0}, window="7d", matchers={"namespace": "prod"}),
    _slo(name="avail", sli={"kind": "availability"}, window="28d", group_by=["namespace"]),
    _slo(name="avail-model", sli={"kind": "availability"}, group_by=["model_name"]),
]


def test_rules_read_only_normalized_series() -> None:
    """No SLO rule names a raw vllm:/DCGM_/inferwatch_ metric: all read inferwatch:* series.

    The one exception is the shared counter group, a normalization group (its name says so, and
    tests/alerts checks every such group), which records the raw counters the SLOs count.
    """
    groups = slo_rule_file(ALL_KINDS).groups
    assert groups[0].name == c.COUNTER_GROUP and c.COUNTER_GROUP.startswith(NORMALIZE_GROUP_PREFIX)
    assert all(RAW.search(r.expr) for r in groups[0].rules)
    for rule in (r for g in groups[1:] for r in g.rules):
        assert not RAW.search(rule.expr), rule.expr
        assert set(re.findall(r"\b([a-zA-Z_:]+:[a-zA-Z0-9_:]+)\b", rule.expr)) <= {
            m for m in re.findall(r"inferwatch:[a-z0-9_:]+", rule.expr)
        }


def test_rule_counts_and_cli_prints_them(tmp_path: Path, repo_root: Path) -> None:
    """A 30-day SLO compiles to 21 rules (Sloth: 17; docs/slo.md says why each is there), one more
    for each further window under a day a shorter SLO window scales to; `slo rules --out` writes
    the file and prints the counts."""
    counts = rule_counts(ALL_KINDS)
    for slo in ALL_KINDS:
        under_a_day = sum(1 for w in recorded_windows(slo.period) if not is_coarse(w))
        assert counts[slo.name] == RULES_PER_SLO + under_a_day - 5, (slo.name, counts)
    assert counts["ttft"] == RULES_PER_SLO and RULES_PER_SLO > SLOTH_RULES_PER_SLO, counts
    res = CliRunner().invoke(
        cli, ["-c", str(repo_root / "examples/inferwatch.yaml"), "slo", "rules", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert f"chat-ttft: {RULES_PER_SLO} rules" in res.stderr
    # 17 records per SLO, and the shared counter group's 6 (TTFT and TPOT counts and buckets,
    # finished requests and HTTP 5xx)
    assert (tmp_path / "slo/generated/slo-rules.yaml").read_text().count("record: ") == 3 * 17 + 6


def _duration(text: str) -> timedelta:
    """A Prometheus duration of several units (`2d19h12m`)."""
    return sum((parse_duration(part) for part in re.findall(r"[0-9]+[dhms]", text)), timedelta())


# Every series an SLO rule reads over a range, where, and how far back at most: (groups, longest).
RANGES: dict[str, tuple[tuple[str, ...], timedelta]] = {
    # the 5-minute checkpoints keep a pod's last value for 10 minutes after the normalized counters
    # (what the shared counter group records) are gone
    **{
        r.record: (("checkpoints",), timedelta(minutes=10))
        for r in slo_rule_file(ALL_KINDS).groups[0].rules
        if isinstance(r, RecordingRule)
    },
    # checkpoints: the coarse checkpoints copy the run before's, and compare it with the runs around it (150 s each)
    c.GOOD_CHECKPOINT_FINE: (("main", "checkpoints"), timedelta(hours=23, minutes=59)),
    c.TOTAL_CHECKPOINT_FINE: (("main", "checkpoints"), timedelta(hours=23, minutes=59)),
    c.GOOD_CHECKPOINT_COARSE: (("long",), timedelta(days=30)),
    c.TOTAL_CHECKPOINT_COARSE: (("long", "main"), timedelta(days=30)),  # main: the absent alert's day
    c.GOOD_EVENTS_WINDOW: (("main",), timedelta(minutes=15)),
    c.TOTAL_EVENTS_WINDOW: (("main",), timedelta(minutes=15)),
    # main: the gap alert's 15 minutes; checkpoints: whether the run before happened (150 s)
    c.RECORDING_HEARTBEAT: (("long", "main", "checkpoints"), timedelta(days=30)),
    c.RECORDING_COVERAGE: (("main",), timedelta(minutes=15)),
}


def _role(group: str) -> str:
    for suffix, role in ((c.CHECKPOINT_GROUP_SUFFIX, "checkpoints"), (c.LONG_GROUP_SUFFIX, "long")):
        if group.endswith(suffix):
            return role
    return "main"


def test_no_long_range_over_bucket_series() -> None:
    """Ranges read only the SLO's own series, each within its bound; a day or longer only from the
    hourly checkpoints, in the long-window group every 5 minutes.

    The SLO group, evaluated every minute, reads the 5-minute checkpoints only over windows under
    a day and otherwise the latest window sum (`last_over_time`), so its cost does not grow with
    the SLO window; nothing reads a range of raw bucket series, and the normalized counters only
    for a gone pod's last value, every 5 minutes.
    """
    long_windows = 0
    for group in slo_rule_file(ALL_KINDS).groups[1:]:
        for rule in group.rules:
            for name, window in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\[([0-9dhms]+)\]", rule.expr):
                assert name in RANGES, rule.expr
                roles, longest = RANGES[name]
                assert _role(group.name) in roles and _duration(window) <= longest, (group.name, name, window)
                if name in (c.GOOD_CHECKPOINT_COARSE, c.TOTAL_CHECKPOINT_COARSE) and _role(group.name) == "long":
                    long_windows += _duration(window) >= timedelta(days=1)
                if name in (c.GOOD_EVENTS_WINDOW, c.TOTAL_EVENTS_WINDOW):
                    assert f"last_over_time({name}" in rule.expr and window == c.WINDOW_SUM_LOOKBACK
    assert long_windows >= len(ALL_KINDS) * 2 * 2


def test_each_slo_has_a_checkpoint_and_a_long_window_group() -> None:
    """After the shared counter group (every minute), each SLO has its checkpoint group and its
    long-window group every 5 minutes and its main group (each after the groups it reads)."""
    groups = slo_rule_file([ALL_KINDS[0]]).groups
    assert [(g.name, g.interval) for g in groups] == [
        (c.COUNTER_GROUP, "1m"),
        ("inferwatch-slo-ttft-checkpoints", "5m"),
        ("inferwatch-slo-ttft-long-windows", "5m"),
        ("inferwatch-slo-ttft", None),
    ]
    assert [r.record for r in groups[1].rules if isinstance(r, RecordingRule)] == [
        c.GOOD_CHECKPOINT_FINE,
        c.TOTAL_CHECKPOINT_FINE,
        c.GOOD_CHECKPOINT_COARSE,
        c.TOTAL_CHECKPOINT_COARSE,
        c.RECORDING_HEARTBEAT,
    ]
    assert [r.record for r in groups[2].rules if isinstance(r, RecordingRule)] == [
        c.GOOD_EVENTS_WINDOW,
        c.TOTAL_EVENTS_WINDOW,
        c.RECORDING_COVERAGE,
    ]


def test_the_long_window_sums_outlast_their_interval() -> None:
    """The SLO group reads the long-window sums over two runs of their group, and the gap alert waits
    longer than one run before it calls the group stopped: a run later than usual is not a gap."""
    assert _duration(c.WINDOW_SUM_LOOKBACK) == 2 * LONG_WINDOWS_INTERVAL
    assert _duration(c.STOPPED_AFTER) > LONG_WINDOWS_INTERVAL


def test_windows_scale_with_the_slo_window() -> None:
    """30d is the SRE workbook's table; 28d and 7d keep the factors and scale the windows (never below 5m)."""
    assert windows_for(timedelta(days=30)) == GOOGLE_30D
    w28 = windows_for(timedelta(days=28))
    assert [(w.factor, format_duration(w.long), format_duration(w.short)) for w in w28] == [
        (14.4, "56m", "5m"),
        (6.0, "5h36m", "28m"),
        (3.0, "22h24m", "1h52m"),
        (1.0, "2d19h12m", "5h36m"),
    ]
    w7 = windows_for(timedelta(days=7))
    assert [format_duration(w.short) for w in w7] == ["5m", "7m", "28m", "1h24m"]
    rules = slo_rule_file([ALL_KINDS[2]]).rules()
    # the burn rates carry their window as a rule label, the long-window sums in their expression
    windows = {r.labels[c.WINDOW_LABEL] for r in rules if isinstance(r, RecordingRule) and c.WINDOW_LABEL in r.labels}
    windows |= {w for r in rules for w in re.findall(r'"window", "([0-9dhm]+)"', r.expr)}
    assert {"7d", "14m", "1h24m", "5h36m", "16h48m"} <= windows


def test_committed_artifacts_match_the_example_config(repo_root: Path) -> None:
    """slo/generated/slo-rules.yaml and deploy/prometheusrules/slo.yaml are what the example config generates."""
    config = load_config(repo_root / "examples/inferwatch.yaml", {})
    kinds = {s.sli.kind for s in config.slos}
    assert {"ttft", "tpot", "availability"} <= kinds
    assert all(s.group_by == ["namespace"] for s in config.slos)
    for art in artifacts(config):
        assert (repo_root / art.path).read_text() == art.content, f"{art.path}: run `inferwatch build`"
    alerts = (c.ALERT_PAGE, c.ALERT_TICKET, c.ALERT_ABSENT, c.ALERT_RECORDING_GAP)
    runbooks = {f"docs/runbooks/{alert}.md" for alert in alerts}
    assert {a.path for a in artifacts(config)} == {RULES_PATH, PROMETHEUS_RULE_PATH, *runbooks}


def test_prometheusrule_object_matches_the_crd(repo_root: Path) -> None:
    """The PrometheusRule object validates against prometheus-operator's CRD schema."""
    crd = yaml.safe_load(REFERENCE.read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    obj = yaml.safe_load((repo_root / PROMETHEUS_RULE_PATH).read_text())
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(obj)
    assert obj["kind"] == "PrometheusRule" and obj["spec"]["groups"]
    broken = obj | {"spec": {"groups": [{"name": 3, "rules": "x"}]}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_every_alert_has_severity_summary_description_runbook() -> None:
    """Every generated alert is routable and explains itself."""
    alerts = [r for r in slo_rule_file(ALL_KINDS).rules() if isinstance(r, AlertingRule)]
    assert len(alerts) == 4 * len(ALL_KINDS)
    for a in alerts:
        assert a.labels["severity"] in ("page", "ticket")
        assert {"summary", "description", "runbook_url"} <= set(a.annotations)


@pytest.mark.parametrize("tool", ["promtool", "promtool2"])
def test_grouped_slos_never_hit_duplicate_series(tools: Toolbox, tmp_path: Path, tool: str) -> None:
    """Grouped by namespace and model_name over several pods, models and HTTP series: exact values, no errors."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(to_prometheus_yaml(slo_rule_file(ALL_KINDS)))
    check = tools.run(tool, "check", "rules", str(rules))
    assert check.returncode == 0, check.stdout + check.stderr
    tpot = "inferwatch:vllm_tpot_seconds"
    fin = "inferwatch:vllm_requests_finished:rate5m"
    series = []
    for model in ("m1", "m2"):
        for pod in ("p1", "p2"):
            lbl = f'namespace="a",model_name="{model}",pod="{pod}"'
            series += [
                {"series": f"{tpot}_count:rate5m{{{lbl}}}", "values": "4x30"},
                {"series": f'{tpot}_bucket:rate5m{{{lbl},le="0.1"}}', "values": "3x30"},
                {"series": f'{tpot}_bucket:rate5m{{{lbl},le="+Inf"}}', "values": "4x30"},
                {"series": f'{fin}{{{lbl},finished_reason="stop"}}', "values": "3x30"},
                {"series": f'{fin}{{{lbl},finished_reason="error"}}', "values": "1x30"},
            ]
    series.append(
        {"series": 'inferwatch:vllm_http_requests:rate5m{namespace="a",pod="p1",status="5xx"}', "values": "2x30"}
    )
    good, total = c.GOOD_EVENTS, c.TOTAL_EVENTS
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "group_eval_order": group_order(tmp_path, [rules.name]),
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": f'{good}{{slo="tpot"}}',
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": f'{good}{{model_name="{m}",namespace="a",slo="tpot"}}', "value": 6}
                            for m in ("m1", "m2")
                        ],
                    },
                    {
                        # HTTP 5xx (no model_name) cannot join model groups; never a duplicate
                        "expr": f'{total}{{slo="avail-model"}}',
                        "eval_time": "10m",
                        "exp_samples": [
                            {"labels": f'{total}{{model_name="{m}",slo="avail-model"}}', "value": 8}
                            for m in ("m1", "m2")
                        ],
                    },
                    {
                        "expr": f'{total}{{slo="avail"}}',
                        "eval_time": "10m",
                        "exp_samples": [{"labels": f'{total}{{namespace="a",slo="avail"}}', "value": 18}],
                    },
                    {
                        "expr": f'{good}{{slo="avail"}}',
                        "eval_time": "10m",
                        "exp_samples": [{"labels": f'{good}{{namespace="a",slo="avail"}}', "value": 12}],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(dump_yaml(tests))
    proc = tools.run(tool, "test", "rules", str(test_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hostile_matcher_value_gives_rules_promtool_accepts(tools: Toolbox, tmp_path: Path) -> None:
    """A matcher value with \\r, \\x85, \\u2028 …: `config check` passes, `slo rules --out` writes valid rules."""
    value = "a\rb\vc\fd\x1ce\x1df\x1eg\x85h\u2028i\u2029j"
    spec = {"name": "odd", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}
    config = tmp_path / "inferwatch.yaml"
    config.write_text(yaml.safe_dump({"slos": [{**spec, "matchers": {"namespace": value}}]}))
    assert CliRunner().invoke(cli, ["-c", str(config), "config", "check"]).exit_code == 0
    res = CliRunner().invoke(cli, ["-c", str(config), "slo", "rules", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    written = tmp_path / "slo/generated/slo-rules.yaml"
    check = tools.run("promtool", "check", "rules", str(written))
    assert check.returncode == 0, check.stdout + check.stderr
    exprs = [r["expr"] for g in yaml.safe_load(written.read_text())["groups"] for r in g["rules"]]
    assert any('namespace="a\\rb\\vc\\fd\\u001ce\\u001df\\u001eg\\u0085h\\u2028i\\u2029j"' in e for e in exprs)
