"""Names of every normalized series, label and window: the contract between rule generators.

The normalization group (inferwatch.alerts.normalize) is the only place that reads raw
`vllm:*`, `sglang:*`, llm-d router (`llm_d_epp_*` and its older names), `DCGM_*` and
`inferwatch_*` series; it records the names below, and every alert, SLO, cost rule and
dashboard reads only these. Names follow `level:metric:operations`. Renaming one is a breaking
change (dashboards and users' own rules read them).

The serving-engine series keep the `vllm_` of their names from the time vLLM was the only
engine: SGLang feeds the same series (inferwatch.alerts.normalize.sglang), so every alert, SLO,
dashboard and cost rule covers both engines without a second copy.
"""

from __future__ import annotations

# --- labels -------------------------------------------------------------------------------
NAMESPACE = "namespace"
MODEL = "model_name"
POD = "pod"
CONTAINER = "container"
ENGINE = "engine"
LE = "le"
FINISHED_REASON = "finished_reason"
GPU_UUID = "gpu_uuid"
GPU_MODEL = "gpu_model"
MIG_UUID = "mig_uuid"
STATUS = "status"
# Which serving engine a pod runs (on SERVING_ENGINE_INFO only): one of SERVING_ENGINES.
SERVING_ENGINE = "serving_engine"
VLLM = "vllm"
SGLANG = "sglang"
SERVING_ENGINES: tuple[str, ...] = (VLLM, SGLANG)

# Labels of every normalized engine series (aggregated over vLLM's `engine`, the data-parallel
# rank, and over SGLang's dp_rank; SGLang's tp/pp/moe-ep ranks fold with max).
VLLM_LABELS: tuple[str, ...] = (NAMESPACE, MODEL, POD)

# --- normalized vLLM series: labels VLLM_LABELS (+ `le` on buckets) ------------------------
# Latency histograms: per-second rates over RATE_WINDOW of bucket / count / sum, summed over engine
# (queue, prefill and decode: count / sum only, their buckets have no reader; alerts/normalize/engines.py).
# Bucket series spell `le` in float form ("2.0", "0.25", "+Inf") under Prometheus 2 and 3 alike.
# Each key is an SLI histogram name; value is the recorded-series prefix.
VLLM_HISTOGRAMS: dict[str, str] = {
    "ttft": "inferwatch:vllm_ttft_seconds",  # vllm:time_to_first_token_seconds
    "itl": "inferwatch:vllm_itl_seconds",  # vllm:inter_token_latency_seconds (old: time_per_output_token_seconds)
    "tpot": "inferwatch:vllm_tpot_seconds",  # vllm:request_time_per_output_token_seconds
    "e2e": "inferwatch:vllm_e2e_seconds",  # vllm:e2e_request_latency_seconds
    "queue": "inferwatch:vllm_queue_seconds",  # vllm:request_queue_time_seconds
    "prefill": "inferwatch:vllm_prefill_seconds",  # vllm:request_prefill_time_seconds
    "decode": "inferwatch:vllm_decode_seconds",  # vllm:request_decode_time_seconds
}
RATE_WINDOW = "5m"


def histogram_series(kind: str, part: str) -> str:
    """Recorded series of a normalized histogram: part is `bucket`, `count` or `sum`.

    e.g. histogram_series("ttft", "bucket") == "inferwatch:vllm_ttft_seconds_bucket:rate5m".
    """
    if part not in ("bucket", "count", "sum"):
        raise ValueError(f"unknown histogram part {part!r}")
    return f"{VLLM_HISTOGRAMS[kind]}_{part}:rate{RATE_WINDOW}"


# --- normalized vLLM counters: raw counter values (not rates), summed over `engine` per pod ----
# Labels VLLM_LABELS (+ `le` on buckets, in float form). Recorded only for what the configured
# SLOs count (group inferwatch-normalize-slo-counters of the SLO rule file, built by
# inferwatch.alerts.normalize.slo_counters): the SLOs' checkpoints read them, so a window
# spans a Prometheus outage with the counters' own jump across it.
def counter_series(kind: str, part: str) -> str:
    """Recorded counter of a normalized histogram: part is `bucket` or `count`.

    e.g. counter_series("ttft", "count") == "inferwatch:vllm_ttft_seconds_count:sum".
    """
    if part not in ("bucket", "count"):
        raise ValueError(f"no counter for histogram part {part!r}")
    return f"{VLLM_HISTOGRAMS[kind]}_{part}:sum"


# Finished requests by `finished_reason`, and HTTP responses by `status` class (no model_name).
VLLM_REQUESTS_FINISHED_COUNTER = "inferwatch:vllm_requests_finished_total:sum"
VLLM_HTTP_REQUESTS_COUNTER = "inferwatch:vllm_http_requests_total:sum"

# Finished requests per second by `finished_reason` (stop, length, abort, error, …). SGLang says
# only whether a request was aborted: its other finished requests carry FINISHED_NOT_REPORTED.
FINISHED_NOT_REPORTED = "not_reported"
VLLM_REQUESTS_FINISHED_RATE = "inferwatch:vllm_requests_finished:rate5m"
# HTTP responses per second of the vLLM API server by `status` class (2xx, 4xx, 5xx); no model_name.
VLLM_HTTP_REQUESTS_RATE = "inferwatch:vllm_http_requests:rate5m"
VLLM_PROMPT_TOKENS_RATE = "inferwatch:vllm_prompt_tokens:rate5m"
VLLM_GENERATION_TOKENS_RATE = "inferwatch:vllm_generation_tokens:rate5m"
VLLM_PREEMPTIONS_RATE = "inferwatch:vllm_preemptions:rate5m"
VLLM_PREFIX_CACHE_HITS_RATE = "inferwatch:vllm_prefix_cache_hits:rate5m"
VLLM_PREFIX_CACHE_QUERIES_RATE = "inferwatch:vllm_prefix_cache_queries:rate5m"
VLLM_REQUESTS_RUNNING = "inferwatch:vllm_requests_running:sum"
VLLM_REQUESTS_WAITING = "inferwatch:vllm_requests_waiting:sum"
VLLM_KV_CACHE_USAGE = "inferwatch:vllm_kv_cache_usage:max"  # ratio 0-1, max over engine
# =1 per pod serving a model: labels namespace, model_name, pod, serving_engine (vllm | sglang).
SERVING_ENGINE_INFO = "inferwatch:serving_engine:info"
# =1 per LoRA adapter with at least one running (or waiting) request on a vLLM pod: labels
# namespace, model_name (the base model), pod, lora_adapter, state (running | waiting). vLLM names
# the adapters but does not count their requests (vllm:lora_requests_info); the two series before
# it are the steps: the label combination vLLM set last per pod, and its names one per series.
LORA_ADAPTER = "lora_adapter"
LORA_STATE = "state"
VLLM_LORA_LATEST = "inferwatch:vllm_lora_requests:latest"
VLLM_LORA_SPLIT = "inferwatch:vllm_lora_adapters:split"
VLLM_LORA_ADAPTERS = "inferwatch:vllm_lora_adapter:info"

# What an engine never reports, by key (a histogram kind or `finish_reason`, `lora`), with what a
# reader misses (the dashboards say
# "not reported by this engine" for these instead of going empty). SGLang 0.5.23 has no decode
# or prefill time per request (its per-stage histogram times forward passes, not a request's
# prefill), no finish reason other than abort, and no running/waiting LoRA adapters.
NOT_REPORTED: dict[str, dict[str, str]] = {
    SGLANG: {
        "prefill": "prefill time",
        "decode": "decode time",
        "finish_reason": "finish reasons other than abort (stop, length, error)",
        "lora": "LoRA adapters running and waiting",
    },
}

# --- normalized GPU series: labels gpu_uuid (+ gpu_model where stated) -----------------------
# From the inferwatch exporter or NVIDIA dcgm-exporter, same units (base units, ratio 0-1).
GPU_INFO = "inferwatch:gpu_info"  # =1, labels gpu_uuid, gpu_model
GPU_UP = "inferwatch:gpu_up"
GPU_UTILIZATION = "inferwatch:gpu_utilization:ratio"
GPU_BUSY_RATE = "inferwatch:gpu_busy_seconds:rate5m"  # busy seconds per second (= utilization, exact)
GPU_MEMORY_USED = "inferwatch:gpu_memory_used:bytes"
GPU_MEMORY_TOTAL = "inferwatch:gpu_memory_total:bytes"
GPU_POWER = "inferwatch:gpu_power:watts"
GPU_ENERGY_RATE = "inferwatch:gpu_energy_joules:rate5m"  # joules per second
GPU_TEMPERATURE = "inferwatch:gpu_temperature:celsius"
GPU_XID_ERRORS_INCREASE = "inferwatch:gpu_xid_errors:increase5m"  # + `xid`
# Share of a GPU each container holds: labels gpu_uuid, namespace, pod, container.
GPU_ALLOCATION = "inferwatch:gpu_allocation:ratio"
# GPUs requested per container of Running pods, by kube-state-metrics (resource nvidia.com/gpu):
# labels namespace, pod, container. The cost fallback when the inferwatch DaemonSet is absent.
GPU_REQUESTED = "inferwatch:gpu_requested:count"

# Uncorrectable (double-bit) ECC errors of a GPU over RATE_WINDOW: labels gpu_uuid.
GPU_ECC_UNCORRECTED_INCREASE = "inferwatch:gpu_ecc_uncorrected_errors:increase5m"
# 1 while a GPU's clocks are held down, 0 otherwise: labels gpu_uuid, cause (thermal | power).
THROTTLE_CAUSE = "cause"
GPU_THROTTLE = "inferwatch:gpu_throttle:active"

# --- scrape targets ---------------------------------------------------------------------------
# `up` of targets that served vLLM metrics within the last hour: labels namespace, pod, instance, job.
VLLM_TARGET_UP = "inferwatch:vllm_target:up"
# `up` of GPU exporter targets (labels as above + exporter = inferwatch | dcgm).
GPU_EXPORTER_TARGET_UP = "inferwatch:gpu_exporter_target:up"

# --- autoscaling: labels namespace, model_name (one series per model; engines and pods summed) ---
# Recorded by inferwatch.workloads.autoscaling from the per-pod series above; KEDA and
# prometheus-adapter read only these, so a scaler never filters on a label vLLM lacks.
# Requests waiting in the queues of every pod of one model.
MODEL_REQUESTS_WAITING = "inferwatch:vllm_model_requests_waiting:sum"
# KV-cache usage summed over the model's pods: how many pods' worth of KV cache is in use.
MODEL_KV_CACHE_USAGE = "inferwatch:vllm_model_kv_cache_usage:sum"
# Pods of one model that report vLLM metrics.
MODEL_PODS = "inferwatch:vllm_model_pods:count"
# The same two signals per InferencePool as the llm-d router sees them (labels namespace, pool): requests
# waiting at the pool's endpoints (average per endpoint x ready endpoints) plus those the router holds in
# its flow-control queues, which no engine counts; and the endpoints' KV-cache usage summed.
POOL_REQUESTS_WAITING = "inferwatch:router_pool_requests_waiting:sum"
POOL_KV_CACHE_USAGE = "inferwatch:router_pool_kv_cache_usage:sum"

# --- series the dashboards read (group inferwatch-normalize-dashboards) ------------------------
NODE = "node"
CLOCK = "clock"
MIG_PROFILE = "profile"
# =1 per whole GPU: labels gpu_uuid, gpu_model, node (the scrape target's node label, or
# dcgm-exporter's Hostname); a GPU no exporter knows the node of has no node label.
GPU_NODE_INFO = "inferwatch:gpu_node:info"
GPU_POWER_LIMIT = "inferwatch:gpu_power_limit:watts"
# Clock frequency: labels gpu_uuid, clock (graphics, sm, memory, video).
GPU_CLOCK = "inferwatch:gpu_clock:hertz"
# MIG instances: labels gpu_uuid (the parent), mig_uuid (+ profile on the info series).
GPU_MIG_INFO = "inferwatch:gpu_mig_info"
GPU_MIG_MEMORY_USED = "inferwatch:gpu_mig_memory_used:bytes"
GPU_MIG_MEMORY_TOTAL = "inferwatch:gpu_mig_memory_total:bytes"
# State of each SLO's burn-rate alerts: 0 quiet, 1 ticket firing, 2 page firing; labels slo and
# the SLO's group labels. Present for every SLO with a recorded budget, firing or not.
SLO_ALERT_STATE = "inferwatch:slo_alert:state"

# --- freshness of GPU values: labels gpu_uuid ----------------------------------------------
# Seconds since the inferwatch exporter last read a GPU's values from NVML (it grows while NVML
# calls stall or the GPU is down). Only the inferwatch exporter reports it: dcgm-exporter has no
# equivalent, so a GPU only dcgm-exporter covers has no series.
GPU_SAMPLE_AGE = "inferwatch:gpu_sample_age:seconds"

# --- the llm-d router (Gateway API Inference Extension endpoint picker, "EPP") -----------------
# From llm-d-router's `llm_d_epp_*` (v0.9.0 on), else the Gateway API Inference Extension's
# `inference_objective_*` / `inference_pool_*` / `inference_extension_*` (v1.1 to v1.5, and
# llm-d-router's dual emission), else `inference_model_*` (v1.0): the newest generation a router
# target serves wins, so a router emitting two generations is counted once.
# `namespace` is the router's own (it runs in its InferencePool's namespace); `pool` is the
# InferencePool it routes for; `model_name` is the model a request asked for and
# `target_model_name` the one it was sent to (a LoRA adapter, after InferenceModelRewrite).
POOL = "pool"
TARGET_MODEL = "target_model_name"
FAIRNESS_ID = "fairness_id"
ERROR_CODE = "error_code"
ROUTER_LABELS: tuple[str, ...] = (NAMESPACE, POOL)
ROUTER_REQUEST_LABELS: tuple[str, ...] = (NAMESPACE, POOL, MODEL, TARGET_MODEL)
# Requests scheduled per second (a shed request is never scheduled, so it is not counted here).
ROUTER_REQUESTS_RATE = "inferwatch:router_requests:rate5m"
# Requests that failed per second, + `error_code` as the router spells it.
ROUTER_REQUEST_ERRORS_RATE = "inferwatch:router_request_errors:rate5m"
# Requests the router shed (HTTP 429: flow-control rejections and queue-TTL evictions, saturation
# admission), whatever the generation calls the code (ResourceExhausted, InferencePoolResourceExhausted).
ROUTER_SHED_RATE = "inferwatch:router_shed_requests:rate5m"
# Prompt and completion tokens per second from the responses' usage, + `fairness_id` (the
# x-llm-d-inference-fairness-id header, "default-flow" without one; empty before llm-d-router
# v0.9.0, whose token histograms carry none). Streamed answers count only with usage reported.
ROUTER_INPUT_TOKENS_RATE = "inferwatch:router_input_tokens:rate5m"
ROUTER_OUTPUT_TOKENS_RATE = "inferwatch:router_output_tokens:rate5m"
# Per pool (labels ROUTER_LABELS): the signals the picker routes on, as the router last read them.
ROUTER_POOL_QUEUE = "inferwatch:router_pool_queue_size:avg"  # waiting requests per endpoint
ROUTER_POOL_KV_CACHE_USAGE = "inferwatch:router_pool_kv_cache_usage:avg"  # ratio 0-1 per endpoint
ROUTER_POOL_READY_ENDPOINTS = "inferwatch:router_pool_ready_endpoints:count"
# Requests held in the router's flow-control queues (feature gate flowControl), summed over flows.
ROUTER_FLOW_CONTROL_QUEUE = "inferwatch:router_flow_control_queue_size:sum"
# The picker's scheduling latency (one request's endpoint choice): bucket / count / sum rates.
ROUTER_SCHEDULER = "inferwatch:router_scheduler_seconds"


def router_scheduler_series(part: str) -> str:
    """Recorded series of the picker's latency histogram: part is `bucket`, `count` or `sum`."""
    if part not in ("bucket", "count", "sum"):
        raise ValueError(f"unknown histogram part {part!r}")
    return f"{ROUTER_SCHEDULER}_{part}:rate{RATE_WINDOW}"
