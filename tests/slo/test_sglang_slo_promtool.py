"""promtool (both versions): SLOs over SGLang's raw series, through the normalization rules and the SLO rules.

A TTFT SLO at 1 s (a boundary on vLLM and on SGLang) counts SGLang's requests under 1 s as good,
summed over its streaming and non-streaming series; an availability SLO counts SGLang's HTTP 5xx as
bad, since SGLang says only whether a request was aborted. Expected values are the arithmetic of
the inputs, done here.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from inferwatch.alerts.generate import rule_files
from inferwatch.config import InferwatchConfig
from inferwatch.config.model import parse_config
from inferwatch.conventions import slo as c
from inferwatch.rules import to_prometheus_yaml
from inferwatch.slo.loader import slos_from_specs
from inferwatch.slo.rules import slo_rule_file
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

TOK = 'namespace="ns2",pod="sglang-0",model_name="m",job="sglang",engine_type="unified"'
# Requests a minute by TTFT bucket, per is_streaming value: (le=0.8, le=1.0, le=2.0, +Inf).
TTFT = {"true": (30, 48, 54, 60), "false": (6, 9, 12, 12)}
FINISHED, ABORTED, HTTP_OK, HTTP_5XX = 72, 3, 69, 6  # a minute


def _series(name: str, labels: str, per_minute: int) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute}x20"}


def _inputs() -> list[dict[str, str]]:
    out = []
    for streaming, counts in TTFT.items():
        labels = f'{TOK},is_streaming="{streaming}"'
        for le, n in zip(("0.8", "1.0", "2.0", "+Inf"), counts, strict=True):
            out.append(_series("sglang:time_to_first_token_seconds_bucket", f'{labels},le="{le}"', n))
        out.append(_series("sglang:time_to_first_token_seconds_count", labels, counts[-1]))
    http = 'namespace="ns2",pod="sglang-0",job="sglang",endpoint="/v1/chat/completions",method="POST"'
    return [
        *out,
        _series("sglang:num_requests_total", f'{TOK},is_streaming="true"', FINISHED),
        _series("sglang:num_aborted_requests_total", TOK, ABORTED),
        _series("sglang:http_responses_total", f'{http},status_code="200"', HTTP_OK),
        _series("sglang:http_responses_total", f'{http},status_code="503"', HTTP_5XX),
    ]


def _expected() -> dict[str, tuple[float, float]]:
    """(good, total) events per second of each SLO."""
    good_ttft = sum(counts[1] for counts in TTFT.values()) / 60
    all_ttft = sum(counts[-1] for counts in TTFT.values()) / 60
    # Nothing SGLang finishes is an error reason; its 5xx responses are the bad events.
    return {"chat-ttft": (good_ttft, all_ttft), "chat-availability": (FINISHED / 60, (FINISHED + HTTP_5XX) / 60)}


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_slos_over_sglang(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    by_ns = {"group_by": ["namespace"]}
    slos_spec = [
        {"name": "chat-ttft", "objective": 99, "sli": {"kind": "ttft", "threshold_seconds": 1}, **by_ns},
        {"name": "chat-availability", "objective": 99.9, "sli": {"kind": "availability"}, **by_ns},
    ]
    config = parse_config({"engines": ["vllm", "sglang"], "slos": slos_spec}, "test.yaml")
    slos, _ = slos_from_specs(config.slos, "test.yaml")
    (tmp_path / "normalize.yaml").write_text(to_prometheus_yaml(rule_files(InferwatchConfig())["normalize"]))
    (tmp_path / "slo.yaml").write_text(to_prometheus_yaml(slo_rule_file(slos)))
    checks = []
    for slo, (good, total) in _expected().items():
        for name, value in ((c.GOOD_EVENTS, good), (c.TOTAL_EVENTS, total)):
            selector = f'{name}{{{c.SLO_LABEL}="{slo}"}}'
            checks.append(
                {
                    "expr": f"round({selector}, 0.0001)",
                    "eval_time": "15m",
                    "exp_samples": [
                        {
                            "labels": f'{{{c.SLO_LABEL}="{slo}",namespace="ns2"}}',
                            "value": math.floor(value * 10000 + 0.5) / 10000,
                        }
                    ],
                }
            )
    test = {"name": "SLOs over SGLang", "interval": "1m", "input_series": _inputs(), "promql_expr_test": checks}
    doc = unit_test_doc(tmp_path, ["normalize.yaml", "slo.yaml"], [test])
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(tmp_path / "test.yaml"))
    assert proc.returncode == 0, f"{promtool}:\n{proc.stdout}\n{proc.stderr}"
