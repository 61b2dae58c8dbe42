"""SGLang's Prometheus metrics as sources of the engine series (SGLang 0.5.23; 0.5.6 where names differ).

SGLang serves `sglang:*` on its HTTP port (`--enable-metrics`), through prometheus_client in
multiprocess mode. Its series carry `model_name` (the served model name) like vLLM's, and
instead of vLLM's `engine` a set of rank labels (python/sglang/srt/observability/
metrics_collector.py): `tp_rank`, `pp_rank` and `moe_ep_rank` name copies of one scheduler's
view (by default only attention-TP rank 0 records, but every pipeline rank does), `dp_rank`
names a data-parallel replica with its own requests. So a series is folded with max over the
rank labels and the scrape's own labels (a sidecar's pass-through and a direct scrape differ
only there), then summed per pod: over `dp_rank`, `is_streaming`, a tokenizer's per-request
`priority` and custom labels, whatever else SGLang splits by. The queue gauges carry the total
under `priority=""` and a breakdown under `priority="<n>"` with priority scheduling on, so they
read the total only.

What SGLang does not report is listed in inferwatch.conventions.normalized.NOT_REPORTED: no
prefill or decode time per request, and why a request finished only when it was aborted.
"""

from __future__ import annotations

from inferwatch.alerts.normalize.expressions import first_of, float_le_buckets, labelled, rate
from inferwatch.conventions import normalized as c

# Labels that tell copies of one value apart: a scheduler rank's copy, or a second scrape of it.
FOLDED: tuple[str, ...] = ("job", "instance", "container", "endpoint", "service", "tp_rank", "pp_rank", "moe_ep_rank")
# The family whose presence makes a target an SGLang server.
RUNNING = "sglang:num_running_reqs"
# Scheduler gauges with a per-priority breakdown next to the total.
_TOTAL_ONLY = 'priority=""'

# Histograms by conventions key (SGLang has no prefill or decode time per request).
HISTOGRAMS: dict[str, str] = {
    "ttft": "sglang:time_to_first_token_seconds",
    "itl": "sglang:inter_token_latency_seconds",
    "tpot": "sglang:request_time_per_output_token_seconds",  # absent from 0.5.6
    "e2e": "sglang:e2e_request_latency_seconds",
    "queue": "sglang:queue_time_seconds",
}


def fold(inner: str, *extra: str) -> str:
    """Max over rank copies and scrape copies, then the sum per pod (and ``extra`` labels)."""
    by = ", ".join((*c.VLLM_LABELS, *extra))
    return f"sum by ({by}) (max without ({', '.join(FOLDED)}) ({inner}))"


def histogram(kind: str, part: str) -> list[str]:
    """The SGLang source of one normalized histogram part, or none."""
    family = HISTOGRAMS.get(kind)
    if family is None:
        return []
    if part == "bucket":
        return [fold(float_le_buckets(f"{family}_bucket"), c.LE)]
    return [fold(rate(f"{family}_{part}"))]


_PREFILL_TOKENS = "sglang:prefill_effective_tokens_total"  # after 0.5.6; every `mode` pre-seeded at 0

# Counter rates by recorded name: the current source first, the 0.5.6 one after.
COUNTERS: dict[str, list[str]] = {
    c.VLLM_PROMPT_TOKENS_RATE: [fold(rate("sglang:prompt_tokens_total"))],
    c.VLLM_GENERATION_TOKENS_RATE: [fold(rate("sglang:generation_tokens_total"))],
    # A retraction is SGLang's preemption; 0.5.6 had only a per-request histogram of them.
    c.VLLM_PREEMPTIONS_RATE: [
        fold(rate("sglang:num_retracted_requests_total")),
        fold(rate("sglang:num_retractions_sum")),
    ],
    # Prompt tokens served from the device, host or storage cache over every prompt token prefilled.
    c.VLLM_PREFIX_CACHE_HITS_RATE: [
        fold(rate(_PREFILL_TOKENS, 'mode=~".+_hit"')),
        fold(rate("sglang:cached_tokens_total")),
    ],
    c.VLLM_PREFIX_CACHE_QUERIES_RATE: [fold(rate(_PREFILL_TOKENS)), fold(rate("sglang:prompt_tokens_total"))],
}


def finished() -> str:
    """Finished requests by `finished_reason`: `abort` for aborts, FINISHED_NOT_REPORTED for the rest.

    sglang:num_requests_total counts every request that finished (aborted ones too) and
    sglang:num_aborted_requests_total the aborts, which appears with the first abort.
    """
    aborted = fold(rate("sglang:num_aborted_requests_total"))
    total = fold(rate("sglang:num_requests_total"))
    rest = f"clamp_min({total} - ({aborted} or {total} * 0), 0)"
    return first_of(
        [labelled(aborted, c.FINISHED_REASON, "abort"), labelled(rest, c.FINISHED_REASON, c.FINISHED_NOT_REPORTED)]
    )


def http() -> str:
    """HTTP responses by status class: SGLang's own counter (after 0.5.6), `status_code` as "200".

    A sidecar passes it through like every `sglang:` family, so copies fold with max as above,
    but over the scrape's labels only: SGLang's `endpoint` is the request path here.
    """
    scrape = ", ".join(label for label in FOLDED if label not in ("endpoint", "tp_rank", "pp_rank", "moe_ep_rank"))
    responses = f"max without ({scrape}) ({rate('sglang:http_responses_total')})"
    return (
        f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
        f'  label_replace({responses}, "{c.STATUS}", "${{1}}xx", "status_code", "([1-5])..")\n)'
    )


def running() -> str:
    """Requests in the running batch per pod."""
    return fold(f"{RUNNING}{{{_TOTAL_ONLY}}}")


def waiting() -> str:
    """Requests in the waiting queue per pod (the grammar and disaggregation queues are apart)."""
    return fold(f"sglang:num_queue_reqs{{{_TOTAL_ONLY}}}")


def kv_cache_usage() -> str:
    """KV-cache usage 0-1 (the fullest of the full, SWA and mamba pools, two decimals), max per pod."""
    return f"max by ({', '.join(c.VLLM_LABELS)}) (sglang:token_usage)"
