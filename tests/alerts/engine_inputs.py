"""promtool inputs from an engine's /metrics payload, the expected normalized values computed apart,
and the alert cases' vLLM histories told in SGLang's names.

A payload (tests/data/engines/) becomes a ten-minute history: a counter or histogram sample
whose value is v grows by 60·round(v) a minute (a rate of round(v) per second, exact in
floating point), a gauge keeps its value. `expected_sglang` then says what each normalized series
must read, from the parsed payload and the documented meaning of SGLang's series, not from the
rules.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from inferwatch.conventions import normalized as n
from tests.alerts.cases import AlertCase, series

Sample = tuple[str, dict[str, str], float]


def samples(payload: str) -> list[tuple[str, str, dict[str, str], float]]:
    """(family type, sample name, labels, value) of every sample of a text-format payload."""
    return [
        (f.type, s.name, dict(s.labels), s.value) for f in text_string_to_metric_families(payload) for s in f.samples
    ]


def _selector(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def history(payload: str, target: dict[str, str]) -> list[dict[str, str]]:
    """The payload as ten minutes of promtool input series, each carrying the scrape ``target``'s labels."""
    out = []
    for kind, name, labels, value in samples(payload):
        growing = kind in ("counter", "histogram")
        values = f"0+{60 * round(value)}x10" if growing else f"{value!r}x10"
        out.append(series(_selector(name, {**labels, **target}), values))
    return out


def _rates(payload: str, name: str, **match: str) -> dict[tuple[str, ...], float]:
    """Per-second rates (round(v)) of samples called ``name`` whose labels match, summed by ``le``."""
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for _, sample, labels, value in samples(payload):
        if sample == name and all(re.fullmatch(v, labels.get(k, "")) for k, v in match.items()):
            out[(labels.get("le", ""),)] += round(value)
    return dict(out)


def _gauges(payload: str, name: str) -> list[float]:
    return [v for _, sample, _, v in samples(payload) if sample == name]


def expected_sglang(payload: str, pod: dict[str, str]) -> list[tuple[str, list[tuple[str, float]]]]:
    """What each normalized engine series reads for one SGLang pod serving ``payload`` (at a steady state)."""
    where = ",".join(f'{k}="{v}"' for k, v in pod.items())
    where_pod = ",".join(f'{k}="{v}"' for k, v in pod.items() if k != n.MODEL)

    def one(name: str, **match: str) -> float:
        return sum(_rates(payload, name, **match).values())

    out: list[tuple[str, list[tuple[str, float]]]] = []
    for kind, family in (
        ("ttft", "sglang:time_to_first_token_seconds"),
        ("itl", "sglang:inter_token_latency_seconds"),
        ("tpot", "sglang:request_time_per_output_token_seconds"),
        ("e2e", "sglang:e2e_request_latency_seconds"),
        ("queue", "sglang:queue_time_seconds"),
    ):
        buckets = _rates(payload, f"{family}_bucket")
        out.append(
            (
                n.histogram_series(kind, "bucket"),
                [(f'{{{where},le="{le}"}}', v) for (le,), v in sorted(buckets.items())],
            )
        )
        out.append((n.histogram_series(kind, "count"), [(f"{{{where}}}", one(f"{family}_count"))]))
        out.append((n.histogram_series(kind, "sum"), [(f"{{{where}}}", one(f"{family}_sum"))]))
    aborted = one("sglang:num_aborted_requests_total")
    finished = one("sglang:num_requests_total")
    status: dict[str, float] = defaultdict(float)
    for _, sample, labels, value in samples(payload):
        if sample == "sglang:http_responses_total":
            status[f"{labels['status_code'][0]}xx"] += round(value)
    out += [
        (n.VLLM_PROMPT_TOKENS_RATE, [(f"{{{where}}}", one("sglang:prompt_tokens_total"))]),
        (n.VLLM_GENERATION_TOKENS_RATE, [(f"{{{where}}}", one("sglang:generation_tokens_total"))]),
        (n.VLLM_PREEMPTIONS_RATE, [(f"{{{where}}}", one("sglang:num_retracted_requests_total"))]),
        (
            n.VLLM_PREFIX_CACHE_HITS_RATE,
            [(f"{{{where}}}", one("sglang:prefill_effective_tokens_total", mode=".+_hit"))],
        ),
        (n.VLLM_PREFIX_CACHE_QUERIES_RATE, [(f"{{{where}}}", one("sglang:prefill_effective_tokens_total"))]),
        (
            n.VLLM_REQUESTS_FINISHED_RATE,
            [
                (f'{{{where},finished_reason="abort"}}', aborted),
                (f'{{{where},finished_reason="{n.FINISHED_NOT_REPORTED}"}}', finished - aborted),
            ],
        ),
        (n.VLLM_HTTP_REQUESTS_RATE, [(f'{{{where_pod},status="{s}"}}', v) for s, v in sorted(status.items())]),
        (n.VLLM_REQUESTS_RUNNING, [(f"{{{where}}}", sum(_gauges(payload, "sglang:num_running_reqs")))]),
        (n.VLLM_REQUESTS_WAITING, [(f"{{{where}}}", sum(_gauges(payload, "sglang:num_queue_reqs")))]),
        (n.VLLM_KV_CACHE_USAGE, [(f"{{{where}}}", max(_gauges(payload, "sglang:token_usage")))]),
        (n.SERVING_ENGINE_INFO, [(f'{{{where},serving_engine="sglang"}}', 1.0)]),
    ]
    return out


def rounded_test(name: str, inputs: list[dict[str, str]], expected: list[tuple[str, list[tuple[str, float]]]]) -> Any:
    """A promtool expression test at 9m comparing values rounded to 0.001.

    Large rates are not exact in floating point, and promtool 2 and 3 extrapolate them in a
    different order (119 on one, 119.00000000000001 on the other): both are rounded alike.
    """
    return {
        "name": name,
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": f"round({expr}, 0.001)",
                "eval_time": "9m",
                "exp_samples": [
                    {"labels": labels, "value": math.floor(value * 1000 + 0.5) / 1000} for labels, value in samples_
                ],
            }
            for expr, samples_ in expected
        ],
    }


# --- the alert cases' vLLM histories in SGLang's names -------------------------------------------

# vLLM family -> (SGLang family, which SGLang collector records it: tokenizer or scheduler).
_SGLANG_NAMES: dict[str, tuple[str, str]] = {
    "vllm:time_to_first_token_seconds": ("sglang:time_to_first_token_seconds", "tokenizer"),
    "vllm:inter_token_latency_seconds": ("sglang:inter_token_latency_seconds", "tokenizer"),
    "vllm:kv_cache_usage_perc": ("sglang:token_usage", "scheduler"),
    "vllm:num_requests_waiting": ("sglang:num_queue_reqs", "scheduler"),
    "vllm:num_requests_running": ("sglang:num_running_reqs", "scheduler"),
    "vllm:num_preemptions_total": ("sglang:num_retracted_requests_total", "scheduler"),
}
_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}$")
_LINEAR = re.compile(r"^0\+(?P<step>\d+)x(?P<times>\d+)$")


def _as_sglang(name_and_labels: str) -> str | None:
    m = _SERIES.match(name_and_labels)
    if m is None or not m.group("name").startswith("vllm:"):
        return None
    name, labels = m.group("name"), m.group("labels")
    family = next((f for f in _SGLANG_NAMES if name == f or name.startswith(f + "_")), None)
    if family is None:
        raise ValueError(f"no SGLang name for {name}")
    target, collector = _SGLANG_NAMES[family]
    engine = re.search(r'engine="(\d+)"', labels)
    labels = re.sub(r',?engine="\d+"', "", labels)
    rank = engine.group(1) if engine else "0"
    if collector == "tokenizer":  # one tokenizer; what vLLM splits by engine, SGLang splits by is_streaming
        extra = f'engine_type="unified",is_streaming="{"true" if rank == "1" else "false"}"'
    else:
        extra = f'engine_type="unified",tp_rank="0",pp_rank="0",moe_ep_rank="0",dp_rank="{rank}"'
    return f"{target}{name[len(family) :]}{{{labels},{extra}}}"


def sglang_case(case: AlertCase) -> AlertCase | None:
    """``case`` with its vLLM series told in SGLang's names and labels, or None when it has none.

    The prefix-cache counters become `prefill_effective_tokens_total` by `mode`: hits are
    `device_hit`, the queried tokens that missed are `input`.
    """
    inputs: list[dict[str, str]] = []
    prefix: dict[str, str] = {}
    translated = False
    for s in case.inputs:
        if "prefix_cache_" in s["series"]:
            prefix["hits" if "hits" in s["series"] else "queries"] = s["values"]
            translated = True
            continue
        name = _as_sglang(s["series"])
        translated |= name is not None
        inputs.append(series(name or s["series"], s["values"]))
    if prefix:
        hits, queries = (_LINEAR.match(prefix[k]) for k in ("hits", "queries"))
        assert hits and queries and hits["times"] == queries["times"], prefix
        missed = int(queries["step"]) - int(hits["step"])
        labels = 'namespace="ns1",pod="vllm-0",model_name="llama",job="vllm",instance="10.0.0.1:8000",' \
                 'engine_type="unified",tp_rank="0",pp_rank="0",moe_ep_rank="0"'  # fmt: skip
        effective = "sglang:prefill_effective_tokens_total"
        inputs += [
            series(f'{effective}{{{labels},mode="device_hit"}}', prefix["hits"]),
            series(f'{effective}{{{labels},mode="input"}}', f"0+{missed}x{hits['times']}"),
        ]
    return replace(case, inputs=inputs) if translated else None
