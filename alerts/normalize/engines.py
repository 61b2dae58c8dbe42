"""The serving-engine series: vLLM (current and older names, llm-d-inference-sim) and SGLang alike.

Each rule records one engine series of inferwatch.conventions.normalized as `vLLM or SGLang`:
a pod serves one engine, so the two never meet on a label set. vLLM's series are summed over
`engine` (the data-parallel rank) the way each kind allows: sum for counters and histograms
(keeping `le`), max for KV-cache usage, after folding the copies a sidecar and a direct scrape
make of one series; llm-d-inference-sim's quirks (no `engine`, `finish_reason`) land in the same
series. SGLang's are folded and summed by inferwatch.alerts.normalize.sglang.
"""

from __future__ import annotations

from dataclasses import dataclass

import inferwatch.alerts.normalize.sglang as sglang
from inferwatch import contract as x
from inferwatch.alerts.normalize.expressions import TARGET_MEMORY, first_of, float_le_buckets, labelled, rate
from inferwatch.alerts.normalize.lora import lora_rules
from inferwatch.conventions import normalized as c
from inferwatch.rules import RecordingRule

_VLLM_BY = ", ".join(c.VLLM_LABELS)
# The family whose presence makes a target a vLLM server.
VLLM_RUNNING = "vllm:num_requests_running"


@dataclass(frozen=True)
class VLLMCounter:
    """A normalized vLLM counter: its recorded name and the raw names, current first."""

    record: str
    sources: tuple[str, ...]


# Histograms by conventions key: raw family names, the current one first, older ones after.
VLLM_HISTOGRAM_SOURCES: dict[str, tuple[str, ...]] = {
    "ttft": ("vllm:time_to_first_token_seconds",),
    "itl": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "tpot": ("vllm:request_time_per_output_token_seconds",),
    "e2e": ("vllm:e2e_request_latency_seconds",),
    "queue": ("vllm:request_queue_time_seconds",),
    "prefill": ("vllm:request_prefill_time_seconds",),
    "decode": ("vllm:request_decode_time_seconds",),
}

# The parts recorded per histogram. Queue, prefill and decode time are read as sums and counts
# only (the dashboards' mean times, the cost rules' prefill share): their buckets — 22 series per
# pod each, 30 % of what the normalization recorded at fleet size (docs/benchmarks.md, "fleet") —
# had no reader. A question about their distribution reads vLLM's own buckets.
ALL_PARTS = ("bucket", "count", "sum")
VLLM_HISTOGRAM_PARTS: dict[str, tuple[str, ...]] = {
    kind: ALL_PARTS if kind in ("ttft", "itl", "tpot", "e2e") else ("count", "sum") for kind in VLLM_HISTOGRAM_SOURCES
}

VLLM_COUNTERS: tuple[VLLMCounter, ...] = (
    VLLMCounter(c.VLLM_PROMPT_TOKENS_RATE, ("vllm:prompt_tokens_total",)),
    VLLMCounter(c.VLLM_GENERATION_TOKENS_RATE, ("vllm:generation_tokens_total",)),
    VLLMCounter(c.VLLM_PREEMPTIONS_RATE, ("vllm:num_preemptions_total",)),
    VLLMCounter(c.VLLM_PREFIX_CACHE_HITS_RATE, ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total")),
    VLLMCounter(
        c.VLLM_PREFIX_CACHE_QUERIES_RATE,
        ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    ),
)


def sum_over_engines(inner: str, *extra: str) -> str:
    """Sum over `engine`, after folding copies of one series scraped twice (vLLM itself and the
    inferwatch sidecar's pass-through differ only in job/instance/container) with max."""
    by = ", ".join((*c.VLLM_LABELS, *extra))
    return f"sum by ({by}) (max by ({by}, {c.ENGINE}) ({inner}))"


def _histogram_rules() -> list[RecordingRule]:
    rules = []
    for kind, sources in VLLM_HISTOGRAM_SOURCES.items():
        for part in VLLM_HISTOGRAM_PARTS[kind]:
            if part == "bucket":
                exprs = [sum_over_engines(float_le_buckets(f"{src}_bucket"), c.LE) for src in sources]
            else:
                exprs = [sum_over_engines(rate(f"{src}_{part}")) for src in sources]
            rules.append(RecordingRule(c.histogram_series(kind, part), first_of(exprs + sglang.histogram(kind, part))))
    return rules


def _counter_rules() -> list[RecordingRule]:
    rules = []
    for counter in VLLM_COUNTERS:
        exprs = [sum_over_engines(rate(src)) for src in counter.sources]
        rules.append(RecordingRule(counter.record, first_of(exprs + sglang.COUNTERS[counter.record])))
    # vLLM labels the reason `finished_reason`; llm-d-inference-sim says `finish_reason`.
    vllm_finished = sum_over_engines(
        f'label_replace({rate("vllm:request_success_total")}, "{c.FINISHED_REASON}", "$1", "finish_reason", "(.+)")',
        c.FINISHED_REASON,
    )
    rules.append(RecordingRule(c.VLLM_REQUESTS_FINISHED_RATE, first_of([vllm_finished, sglang.finished()])))
    # The API server's HTTP counter (prometheus-fastapi-instrumentator) by status class; the
    # name is generic, so only pods that also serve vLLM metrics count.
    vllm_http = (
        f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
        f'  label_replace({rate("http_requests_total")}, "{c.STATUS}", "${{1}}xx", "{c.STATUS}", "([1-5]).."))\n'
        f"and on ({c.NAMESPACE}, {c.POD})\n"
        f"group by ({c.NAMESPACE}, {c.POD}) ({VLLM_RUNNING})"
    )
    rules.append(RecordingRule(c.VLLM_HTTP_REQUESTS_RATE, first_of([vllm_http, sglang.http()])))
    return rules


def _gauge_rules() -> list[RecordingRule]:
    return [
        RecordingRule(c.VLLM_REQUESTS_RUNNING, first_of([sum_over_engines(VLLM_RUNNING), sglang.running()])),
        RecordingRule(
            c.VLLM_REQUESTS_WAITING, first_of([sum_over_engines("vllm:num_requests_waiting"), sglang.waiting()])
        ),
        RecordingRule(
            c.VLLM_KV_CACHE_USAGE,
            first_of(
                [
                    f"max by ({_VLLM_BY}) (vllm:kv_cache_usage_perc)",
                    f"max by ({_VLLM_BY}) (vllm:gpu_cache_usage_perc)",
                    sglang.kv_cache_usage(),
                ]
            ),
        ),
        RecordingRule(
            c.SERVING_ENGINE_INFO,
            first_of(
                [
                    labelled(f"group by ({_VLLM_BY}) ({VLLM_RUNNING})", c.SERVING_ENGINE, c.VLLM),
                    labelled(f"group by ({_VLLM_BY}) ({sglang.RUNNING})", c.SERVING_ENGINE, c.SGLANG),
                ]
            ),
        ),
    ]


def engine_rules() -> list[RecordingRule]:
    """Every engine series: histograms, counters, gauges, which engine a pod runs and its LoRA adapters."""
    return _histogram_rules() + _counter_rules() + _gauge_rules() + lora_rules()


def engine_target_up() -> RecordingRule:
    """`up` of targets that served vLLM or SGLang metrics within the last hour.

    A sidecar passing an engine's metrics through answers its scrape (up = 1) while the engine
    behind it does not: the sidecar's own inferwatch_vllm_up says so, and the lower wins.
    """
    seen = " or ".join(f"last_over_time({f}[{TARGET_MEMORY}])" for f in (VLLM_RUNNING, sglang.RUNNING))
    return RecordingRule(
        c.VLLM_TARGET_UP,
        f"min by ({c.NAMESPACE}, {c.POD}, instance, job) (\n"
        f"  up\n  or\n"
        f'  label_replace({x.VLLM_UP.name}, "via", "sidecar", "job", ".*")\n)\n'
        f"and on (instance, job)\n"
        f"group by (instance, job) ({seen})",
    )
