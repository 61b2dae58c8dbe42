"""Latency SLO thresholds against every serving engine's buckets (inferwatch.config.buckets)."""

from __future__ import annotations

import pytest

from inferwatch.app.commands.slo import bucket_problems
from inferwatch.config.buckets import SGLANG_DEFAULT_BUCKETS, VLLM_DEFAULT_BUCKETS, HistogramBuckets
from inferwatch.config.model import parse_config
from inferwatch.errors import ConfigError
from inferwatch.slo.loader import slos_from_specs

TTFT_2_5 = {"name": "chat-ttft", "objective": 99, "sli": {"kind": "ttft", "threshold_seconds": 2.5}}


def test_a_threshold_must_be_a_boundary_on_every_engine() -> None:
    parse_config({"slos": [TTFT_2_5]}, "x.yaml")  # vLLM alone: 2.5 s is one of its TTFT boundaries
    with pytest.raises(ConfigError) as err:
        parse_config({"engines": ["vllm", "sglang"], "slos": [TTFT_2_5]}, "x.yaml")
    message = str(err.value)
    assert "slos.0.sli.threshold_seconds" in message and "SGLang's default ttft buckets" in message
    assert "--bucket-time-to-first-token (declared under buckets.sglang.ttft)" in message


def test_declared_sglang_buckets_or_an_slos_own_engines_settle_it() -> None:
    declared = parse_config(
        {"engines": ["vllm", "sglang"], "buckets": {"sglang": {"ttft": [1, 2.5, 5]}}, "slos": [TTFT_2_5]}, "x.yaml"
    )
    assert declared.buckets.boundaries("ttft", "sglang") == (1, 2.5, 5)
    assert declared.buckets.origin("ttft", "sglang") == "buckets.sglang.ttft"
    own = parse_config({"engines": ["vllm", "sglang"], "slos": [{**TTFT_2_5, "engines": ["vllm"]}]}, "x.yaml")
    assert own.slos[0].engines == ["vllm"]
    with pytest.raises(ConfigError, match="on sglang"):
        parse_config({"slos": [{**TTFT_2_5, "engines": ["sglang"]}]}, "x.yaml")
    with pytest.raises(ConfigError, match="engines"):
        parse_config({"engines": ["tgi"]}, "x.yaml")


@pytest.mark.parametrize(
    ("kind", "common"),
    [
        ("ttft", (0.1, 1, 10, 20, 40, 80)),
        ("tpot", (0.01, 0.025, 0.1, 0.2, 0.4, 1)),
        ("e2e", (0.8, 1, 2, 10, 20, 40, 60)),
    ],
)
def test_the_boundaries_both_engines_share_by_default(kind: str, common: tuple[float, ...]) -> None:
    """docs/engines.md's table: the thresholds that work on vLLM and SGLang alike, out of the box."""
    assert tuple(sorted(set(VLLM_DEFAULT_BUCKETS[kind]) & set(SGLANG_DEFAULT_BUCKETS[kind]))) == common


def test_slo_check_reads_every_configured_engine() -> None:
    slos, _ = slos_from_specs(parse_config({"slos": [TTFT_2_5]}, "x.yaml").slos, "x.yaml")
    assert bucket_problems(slos, HistogramBuckets()) == []
    (problem,) = bucket_problems(slos, HistogramBuckets(), engines=("vllm", "sglang"))
    assert "of SGLang's default ttft buckets" in str(problem)
