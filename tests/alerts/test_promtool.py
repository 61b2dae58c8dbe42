"""promtool proof: both promtools accept every generated rule file, every alert fires and stays quiet,
and every pair of sources (old/new vLLM names, inferwatch/DCGM GPUs) feeds the same normalized series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.alerts.catalog import alert_definitions, alert_groups
from inferwatch.config import InferwatchConfig, Thresholds
from inferwatch.rules import AlertingRule
from inferwatch.tools import Toolbox
from tests.alerts.cases import FIRING, QUIET, AlertCase, at, render, series
from tests.alerts.conftest import write_rules
from tests.support.promtool import unit_test_doc

PROMTOOLS = ["promtool", "promtool2"]
CONFIG = InferwatchConfig()


def _run_tests(tools: Toolbox, promtool: str, rules_dir: Path, tests: list[dict[str, Any]], name: str) -> None:
    doc = unit_test_doc(rules_dir, ["normalize.yaml", "alerts.yaml"], tests)
    path = rules_dir / f"{name}-{promtool}.test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool} test rules failed:\n{proc.stdout}\n{proc.stderr}"
    assert "SUCCESS" in proc.stdout + proc.stderr


def _alert_test(case: AlertCase, config: InferwatchConfig = CONFIG) -> dict[str, Any]:
    groups = alert_groups(config.thresholds, config.runbook_base_url)
    rule = next(r for g in groups for r in g.rules if isinstance(r, AlertingRule) and r.alert == case.alert)
    expected = []
    if case.fires:
        annotations = {k: render(v, case.labels, case.value_text) for k, v in rule.annotations.items()}
        expected = [{"exp_labels": case.labels, "exp_annotations": annotations}]
    return {
        "name": f"{case.alert} {'fires' if case.fires else 'stays quiet'}",
        "interval": "1m",
        "input_series": case.inputs,
        "alert_rule_test": [{"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}],
    }


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    names = {d.name for d in alert_definitions(CONFIG.thresholds)}
    assert {c.alert for c in FIRING} == names
    assert {c.alert for c in QUIET} == names
    assert all(c.fires for c in FIRING) and not any(c.fires for c in QUIET)


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_every_alert_fires_and_stays_quiet(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    tests = [_alert_test(c) for c in FIRING + QUIET]
    for i, t in enumerate(tests):
        t["name"] = f"{i}: {t['name']}"
    _run_tests(tools, promtool, rules_dir, tests, "alerts")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_a_configured_for_duration_holds_the_alert(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    """`thresholds.ttft_for` is the alert's `for:`: with 30m, the history that pages after 10m + 10m stays
    quiet then and pages after 30m + 10m, its description saying 30m."""
    config = InferwatchConfig(thresholds=Thresholds(ttft_for="30m"))
    firing = next(c for c in FIRING if c.alert == "VLLMTimeToFirstTokenHigh")
    quiet_early = AlertCase(firing.alert, firing.inputs, firing.eval_time)
    late = AlertCase(firing.alert, firing.inputs, at("30m", 10), firing.labels, firing.value_text)
    tests = [_alert_test(quiet_early, config), _alert_test(late, config)]
    assert "for 30m" in str(tests[1]["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"]["description"])
    for i, t in enumerate(tests):
        t["name"] = f"{i}: {t['name']}"
    _run_tests(tools, promtool, write_rules(tmp_path, config), tests, "for")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_a_wrong_expectation_fails(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """The harness can fail: a quiet history asserted to fire is reported by promtool."""
    case = QUIET[0]
    test = _alert_test(case)
    test["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "page"}}]
    path = rules_dir / f"wrong-{promtool}.test.yaml"
    doc = unit_test_doc(rules_dir, ["normalize.yaml", "alerts.yaml"], [test])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode != 0


# --- source pairs: different raw inputs, the same normalized output -------------------------

V = 'namespace="ns1",pod="vllm-0",model_name="llama"'
VLLM_EXPECTED: list[tuple[str, list[tuple[str, float]]]] = [
    ("inferwatch:vllm_kv_cache_usage:max", [(f"{{{V}}}", 0.7)]),
    (
        'inferwatch:vllm_itl_seconds_bucket:rate5m{le="0.1"}',
        [(f'{{{V},le="0.1"}}', 1.0)],
    ),
    ("inferwatch:vllm_itl_seconds_count:rate5m", [(f"{{{V}}}", 2.0)]),
    ("inferwatch:vllm_prefix_cache_hits:rate5m", [(f"{{{V}}}", 10.0)]),
    ("inferwatch:vllm_prefix_cache_queries:rate5m", [(f"{{{V}}}", 40.0)]),
    ("inferwatch:vllm_requests_finished:rate5m", [(f'{{{V},finished_reason="stop"}}', 0.5)]),
]


def _vllm_inputs(current: bool, engine_label: bool = True, job: str = "vllm") -> list[dict[str, str]]:
    lab = f'{V},job="{job}",instance="10.0.0.1:8000"'
    engines = ['engine="0"', 'engine="1"'] if engine_label else [""]
    per = len(engines)
    out: list[dict[str, str]] = []
    kv, itl, hits, queries = (
        ("kv_cache_usage_perc", "inter_token_latency_seconds", "prefix_cache_hits_total", "prefix_cache_queries_total")
        if current
        else (
            "gpu_cache_usage_perc",
            "time_per_output_token_seconds",
            "gpu_prefix_cache_hits_total",
            "gpu_prefix_cache_queries_total",
        )
    )
    reason = "finished_reason" if engine_label else "finish_reason"  # llm-d-inference-sim's spelling
    for i, e in enumerate(engines):
        sel = f"{lab},{e}" if e else lab
        out += [
            series(f"vllm:{kv}{{{sel}}}", "0.7x10" if i == 0 else "0.2x10"),
            series(f'vllm:{itl}_bucket{{{sel},le="0.1"}}', f"0+{60 // per}x10"),
            series(f'vllm:{itl}_bucket{{{sel},le="+Inf"}}', f"0+{120 // per}x10"),
            series(f"vllm:{itl}_count{{{sel}}}", f"0+{120 // per}x10"),
            series(f"vllm:{hits}{{{sel}}}", f"0+{600 // per}x10"),
            series(f"vllm:{queries}{{{sel}}}", f"0+{2400 // per}x10"),
            series(f'vllm:request_success_total{{{sel},{reason}="stop"}}', f"0+{30 // per}x10"),
        ]
    return out


G = 'gpu_uuid="GPU-1"'
GPU_EXPECTED: list[tuple[str, list[tuple[str, float]]]] = [
    ("inferwatch:gpu_info", [(f'{{{G},gpu_model="NVIDIA H100 80GB HBM3"}}', 1.0)]),
    ("inferwatch:gpu_up", [(f"{{{G}}}", 1.0)]),
    ("inferwatch:gpu_utilization:ratio", [(f"{{{G}}}", 0.5)]),
    ("inferwatch:gpu_busy_seconds:rate5m", [(f"{{{G}}}", 0.5)]),
    ("inferwatch:gpu_memory_used:bytes", [(f"{{{G}}}", 40 * 1024**3)]),
    ("inferwatch:gpu_memory_total:bytes", [(f"{{{G}}}", 80 * 1024**3)]),
    ("inferwatch:gpu_power:watts", [(f"{{{G}}}", 300.0)]),
    ("inferwatch:gpu_energy_joules:rate5m", [(f"{{{G}}}", 300.0)]),
    ("inferwatch:gpu_temperature:celsius", [(f"{{{G}}}", 61.0)]),
    ("inferwatch:gpu_xid_errors:increase5m", [(f'{{{G},xid="79"}}', 1.0)]),
    ("inferwatch:gpu_throttle:active", [(f'{{{G},cause="thermal"}}', 1.0), (f'{{{G},cause="power"}}', 0.0)]),
    (
        "inferwatch:gpu_allocation:ratio",
        [(f'{{{G},namespace="ns1",pod="vllm-0",container="vllm"}}', 1.0)],
    ),
]


def _inferwatch_gpu_inputs(util: float = 0.5) -> list[dict[str, str]]:
    lab = f'{G},job="inferwatch-exporter",instance="10.0.0.9:9400"'
    return [
        series(f'inferwatch_gpu_info{{{lab},gpu_model="NVIDIA H100 80GB HBM3",gpu_index="0"}}', "1x10"),
        series(f"inferwatch_gpu_up{{{lab}}}", "1x10"),
        series(f"inferwatch_gpu_utilization_ratio{{{lab}}}", f"{util}x10"),
        series(f"inferwatch_gpu_busy_seconds_total{{{lab}}}", "0+30x10"),
        series(f"inferwatch_gpu_memory_used_bytes{{{lab}}}", f"{40 * 1024**3}x10"),
        series(f"inferwatch_gpu_memory_total_bytes{{{lab}}}", f"{80 * 1024**3}x10"),
        series(f"inferwatch_gpu_power_watts{{{lab}}}", "300x10"),
        series(f"inferwatch_gpu_energy_joules_total{{{lab}}}", "0+18000x10"),
        series(f'inferwatch_gpu_temperature_celsius{{{lab},sensor="gpu"}}', "61x10"),
        series(f'inferwatch_gpu_temperature_celsius{{{lab},sensor="memory"}}', "70x10"),
        series(f'inferwatch_gpu_xid_errors_total{{{lab},xid="79"}}', "_x6 1x4"),
        series(f'inferwatch_gpu_throttle_active{{{lab},reason="hw_thermal_slowdown"}}', "1x10"),
        series(f'inferwatch_gpu_throttle_active{{{lab},reason="sw_power_cap"}}', "0x10"),
        series(f'inferwatch_gpu_allocation_ratio{{{lab},namespace="ns1",pod="vllm-0",container="vllm"}}', "1x10"),
        # A MIG instance of the same GPU must not leak into the whole-GPU series.
        series(f'inferwatch_gpu_utilization_ratio{{{lab},mig_uuid="MIG-1"}}', "0.9x10"),
    ]


def _dcgm_inputs(util: int = 50) -> list[dict[str, str]]:
    lab = 'UUID="GPU-1",gpu="0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",job="dcgm",instance="10.0.0.9:9400"'
    att = f'{lab},namespace="ns1",pod="vllm-0",container="vllm"'
    return [
        series(f"DCGM_FI_DEV_GPU_UTIL{{{att}}}", f"{util}x10"),
        series(f"DCGM_FI_DEV_FB_USED{{{att}}}", "40960x10"),
        series(f"DCGM_FI_DEV_FB_FREE{{{att}}}", "40960x10"),
        series(f"DCGM_FI_DEV_POWER_USAGE{{{att}}}", "300x10"),
        series(f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{att}}}", "0+18000000x10"),
        series(f"DCGM_FI_DEV_GPU_TEMP{{{att}}}", "61x10"),
        series(f"DCGM_FI_DEV_XID_ERRORS{{{att}}}", "0x6 79x4"),
        series(f"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{{{att}}}", "64x10"),  # 0x40: HW thermal slowdown
    ]


def _expr_test(name: str, inputs: list[dict[str, str]], expected: list[tuple[str, list[tuple[str, float]]]]) -> Any:
    return {
        "name": name,
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": expr,
                "eval_time": "9m",
                "exp_samples": [{"labels": expr.split("{")[0] + labels, "value": value} for labels, value in samples],
            }
            for expr, samples in expected
        ],
    }


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_old_and_new_vllm_names_feed_the_same_series(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    tests = [
        _expr_test("current vLLM names", _vllm_inputs(current=True), VLLM_EXPECTED),
        _expr_test("older vLLM names", _vllm_inputs(current=False), VLLM_EXPECTED),
        # llm-d-inference-sim: no engine label, finish_reason, old TPOT name next to the new one.
        _expr_test(
            "both names at once, no engine label (llm-d-inference-sim)",
            _vllm_inputs(current=True, engine_label=False)
            + [s for s in _vllm_inputs(current=False, engine_label=False) if "request_success" not in s["series"]],
            VLLM_EXPECTED,
        ),
    ]
    tests.append(
        # vLLM scraped directly *and* through the inferwatch sidecar's pass-through: counted once.
        _expr_test(
            "scraped twice",
            _vllm_inputs(current=True) + _vllm_inputs(current=True, job="inferwatch-exporter"),
            VLLM_EXPECTED,
        )
    )
    _run_tests(tools, promtool, rules_dir, tests, "vllm-sources")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_bucket_le_has_one_spelling_for_go_and_python_clients(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """A Go client (llm-d-inference-sim) writes le="2", vLLM le="2.0": one normalized bucket each."""
    bucket = "vllm:time_to_first_token_seconds_bucket"
    inputs = [series(f'{bucket}{{{V},engine="0",le="{le}"}}', "0+60x10") for le in ("0.5", "2", "+Inf")] + [
        series(f'{bucket}{{{V},engine="1",le="{le}"}}', "0+60x10") for le in ("0.5", "2.0", "+Inf")
    ]
    expected = [
        (
            "inferwatch:vllm_ttft_seconds_bucket:rate5m",
            [(f'{{{V},le="{le}"}}', 2.0) for le in ("0.5", "2.0", "+Inf")],
        )
    ]
    _run_tests(tools, promtool, rules_dir, [_expr_test("le spelling", inputs, expected)], "le")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_a_target_switching_le_spelling_keeps_its_buckets(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """A pod whose engine changed from a Go client (le="2") to vLLM (le="2.0") within the rate window,
    same target (a StatefulSet pod keeps its name): both spellings would become one label set, which
    would fail the whole rule; the float-spelled (newer) series counts, every pod's buckets stay."""
    bucket = "vllm:time_to_first_token_seconds_bucket"
    target = f'{V},engine="0",job="vllm",instance="10.0.0.1:8000"'
    other = 'namespace="ns1",pod="vllm-1",model_name="llama",engine="0",job="vllm",instance="10.0.0.2:8000"'
    inputs = [
        # the Go client until minute 6, vLLM from minute 5 on (its counter from zero)
        *(series(f'{bucket}{{{target},le="{le}"}}', "0+30x6") for le in ("2", "+Inf")),
        *(series(f'{bucket}{{{target},le="{le}"}}', "_x5 0+60x5") for le in ("2.0", "+Inf")),
        *(series(f'{bucket}{{{other},le="{le}"}}', "0+60x10") for le in ("2.0", "+Inf")),
    ]
    out = "inferwatch:vllm_ttft_seconds_bucket:rate5m"
    labels = '{namespace="ns1",pod="vllm-1",model_name="llama",le="%s"}'
    test = _expr_test(
        "le spelling switched", inputs, [(f'{out}{{pod="vllm-1"}}', [(labels % le, 1.0) for le in ("2.0", "+Inf")])]
    )
    # the switched pod still has its buckets: the rule did not fail
    test["promql_expr_test"].append(
        {"expr": f'count({out}{{pod="vllm-0"}})', "eval_time": "9m", "exp_samples": [{"labels": "{}", "value": 2}]}
    )
    tests = [test]
    _run_tests(tools, promtool, rules_dir, tests, "le-switch")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_inferwatch_and_dcgm_gpu_sources_feed_the_same_series(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    tests = [
        _expr_test("inferwatch exporter", _inferwatch_gpu_inputs(), GPU_EXPECTED),
        _expr_test("dcgm-exporter", _dcgm_inputs(), GPU_EXPECTED),
        # Both exporters on one GPU: the inferwatch exporter's values win, nothing counts twice.
        _expr_test("both exporters", _inferwatch_gpu_inputs() + _dcgm_inputs(util=90), GPU_EXPECTED),
    ]
    _run_tests(tools, promtool, rules_dir, tests, "gpu-sources")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_gpu_sample_age_comes_from_the_inferwatch_exporter_only(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """Whole GPUs' sample age, the older one where two exporters scrape a GPU; dcgm-exporter has none."""
    lab = f'{G},job="inferwatch-exporter",instance="10.0.0.9:9400"'
    inputs = [
        *_inferwatch_gpu_inputs(),
        series(f"inferwatch_gpu_sample_age_seconds{{{lab}}}", "0+1x10"),
        series(f'inferwatch_gpu_sample_age_seconds{{{G},job="sidecar",instance="10.0.0.9:9401"}}', "2x10"),
        # A GPU only dcgm-exporter reports: no sample age.
        *(series(s["series"].replace("GPU-1", "GPU-2"), s["values"]) for s in _dcgm_inputs()),
    ]
    expected = [("inferwatch:gpu_sample_age:seconds", [(f"{{{G}}}", 9.0)])]
    _run_tests(tools, promtool, rules_dir, [_expr_test("sample age", inputs, expected)], "sample-age")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_dcgm_power_throttling_is_decoded_from_the_bitmask(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    inputs = [s for s in _dcgm_inputs() if "THROTTLE" not in s["series"]]
    inputs.append(
        series('DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{UUID="GPU-1",modelName="NVIDIA H100 80GB HBM3",job="dcgm"}', "4x10")
    )
    expected = [
        ("inferwatch:gpu_throttle:active", [(f'{{{G},cause="thermal"}}', 0.0), (f'{{{G},cause="power"}}', 1.0)])
    ]
    _run_tests(tools, promtool, rules_dir, [_expr_test("sw power cap", inputs, expected)], "dcgm-power")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_http_status_is_grouped_into_classes_for_vllm_pods_only(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    vllm_pod = 'namespace="ns1",pod="vllm-0",job="vllm",instance="10.0.0.1:8000"'
    other_pod = 'namespace="ns1",pod="web-0",job="web",instance="10.0.0.2:8000"'
    inputs = [
        series(f'vllm:num_requests_running{{{vllm_pod},model_name="llama"}}', "0x10"),
        series(f'http_requests_total{{{vllm_pod},handler="/v1/completions",method="POST",status="2xx"}}', "0+60x10"),
        series(f'http_requests_total{{{vllm_pod},handler="/v1/completions",method="POST",status="503"}}', "0+6x10"),
        series(f'http_requests_total{{{vllm_pod},handler="/v1/models",method="GET",status="500"}}', "0+6x10"),
        series(f'http_requests_total{{{other_pod},handler="/",method="GET",status="200"}}', "0+60x10"),
    ]
    expected = [
        (
            "inferwatch:vllm_http_requests:rate5m",
            [
                ('{namespace="ns1",pod="vllm-0",status="2xx"}', 1.0),
                ('{namespace="ns1",pod="vllm-0",status="5xx"}', 0.2),
            ],
        )
    ]
    _run_tests(tools, promtool, rules_dir, [_expr_test("http", inputs, expected)], "http")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_kube_state_metrics_gpu_requests(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    ksm = 'job="kube-state-metrics",namespace="ns1",pod="vllm-0",container="vllm",node="n1"'
    inputs = [
        series(f'kube_pod_container_resource_requests{{{ksm},resource="nvidia_com_gpu",unit="integer"}}', "2x10"),
        series(f'kube_pod_container_resource_requests{{{ksm},resource="cpu",unit="core"}}', "4x10"),
        series('kube_pod_status_phase{job="kube-state-metrics",namespace="ns1",pod="vllm-0",phase="Running"}', "1x10"),
        series('kube_pod_status_phase{job="kube-state-metrics",namespace="ns1",pod="vllm-0",phase="Pending"}', "0x10"),
        # A pod still Pending holds no GPU yet.
        series(
            'kube_pod_container_resource_requests{job="kube-state-metrics",namespace="ns1",pod="vllm-1",'
            'container="vllm",resource="nvidia_com_gpu",unit="integer"}',
            "1x10",
        ),
        series('kube_pod_status_phase{job="kube-state-metrics",namespace="ns1",pod="vllm-1",phase="Running"}', "0x10"),
        series('kube_pod_status_phase{job="kube-state-metrics",namespace="ns1",pod="vllm-1",phase="Pending"}', "1x10"),
    ]
    expected = [("inferwatch:gpu_requested:count", [('{namespace="ns1",pod="vllm-0",container="vllm"}', 2.0)])]
    _run_tests(tools, promtool, rules_dir, [_expr_test("ksm", inputs, expected)], "ksm")


# --- GPU attribution: the kubelet's answer wins over sidecar claims ---------------------------------


def _allocation(gpu: str, owner: str, source: str | None, job: str, instance: str) -> str:
    label = f',source="{source}"' if source else ""
    return (
        f'inferwatch_gpu_allocation_ratio{{gpu_uuid="{gpu}",namespace="ns-{owner}",pod="pod-{owner}",'
        f'container="vllm"{label},job="{job}",instance="{instance}"}}'
    )


def _node(gpu: str, owner: str, source: str | None = "kubelet") -> str:
    return _allocation(gpu, owner, source, "inferwatch-exporter", "10.0.0.9:9400")


def _sidecar(gpu: str, owner: str) -> str:
    return _allocation(gpu, owner, "sidecar", "inferwatch-sidecars", f"10.0.1.{ord(owner)}:9400")


def _held(*holdings: tuple[str, str, float]) -> list[tuple[str, float]]:
    return [(f'{{gpu_uuid="{g}",namespace="ns-{o}",pod="pod-{o}",container="vllm"}}', r) for g, o, r in holdings]


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_the_kubelets_attribution_overrides_sidecar_claims(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """A shared node: the DaemonSet attributes GPU-a to pod a and GPU-b to pod b from the kubelet, while
    both sidecars (NVIDIA_VISIBLE_DEVICES=all) claim both GPUs. Each GPU is held once, by its own pod.

    GPU-c is claimed only by pod c's sidecar (DRA: no kubelet answer for it) and keeps that claim;
    GPU-d, reported only by dcgm-exporter, keeps dcgm's attachment; GPU-e is attributed by a
    DaemonSet older than the `source` label, which counts as the kubelet's.
    GPU-f's DaemonSet answers only from minute 5: until then pod f's sidecar claim stands, then the
    kubelet's (a time-sliced half for each of pods f and g) replaces it. GPU-g is a device-plugin GPU
    nobody holds: the kubelet knows it (inferwatch_podresources_gpu_info), so the sidecars' claims on
    it are void and it stays idle.
    """
    claims = [series(_sidecar(gpu, owner), "1x10") for gpu in ("GPU-a", "GPU-b") for owner in "ab"]
    inputs = [
        series(_node("GPU-a", "a"), "1x10"),
        series(_node("GPU-b", "b"), "1x10"),
        *claims,
        series(_sidecar("GPU-c", "c"), "1x10"),
        series(
            'DCGM_FI_DEV_GPU_UTIL{UUID="GPU-d",modelName="NVIDIA H100 80GB HBM3",job="dcgm",'
            'namespace="ns-d",pod="pod-d",container="vllm"}',
            "50x10",
        ),
        series(_node("GPU-e", "e", source=None), "1x10"),
        series(_sidecar("GPU-e", "b"), "1x10"),
        series(_sidecar("GPU-f", "f"), "1x10"),
        series(_node("GPU-f", "f"), "_x5 0.5x5"),
        series(_node("GPU-f", "g"), "_x5 0.5x5"),
        *(series(_sidecar("GPU-g", owner), "1x10") for owner in "ab"),
        series(
            'inferwatch_podresources_gpu_info{gpu_uuid="GPU-g",job="inferwatch-exporter",instance="10.0.0.9:9400"}',
            "1x10",
        ),
    ]
    expr = "inferwatch:gpu_allocation:ratio"
    common = [("GPU-a", "a", 1.0), ("GPU-b", "b", 1.0), ("GPU-c", "c", 1.0), ("GPU-d", "d", 1.0), ("GPU-e", "e", 1.0)]
    test = {
        "name": "attribution",
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": expr,
                "eval_time": eval_time,
                "exp_samples": [{"labels": expr + labels, "value": value} for labels, value in _held(*expected)],
            }
            for eval_time, expected in (
                ("2m", [*common, ("GPU-f", "f", 1.0)]),
                ("8m", [*common, ("GPU-f", "f", 0.5), ("GPU-f", "g", 0.5)]),
            )
        ],
    }
    _run_tests(tools, promtool, rules_dir, [test], "attribution")
