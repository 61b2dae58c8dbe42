"""Names of the cost recording rules: what the report reads and dashboards may read.

Every cost series is a per-second rate in the configured currency (or GPU-seconds, joules,
tokens per second), recorded every `pricing.rule_interval_s`; the weekly report integrates
them with ``sum_over_time(x[1w]) * interval``. Labels: namespace and pod, or namespace and
model_name, or gpu_uuid (and gpu_model) for per-GPU series.
"""

from __future__ import annotations

GROUP_PREFIX = "inferwatch-cost"

# --- prices: one rule per price, the value a constant (prices enter rules as data) -----------
PRICE_GPU_HOUR = "inferwatch:cost_gpu_hour_price:config"  # + gpu_model
PRICE_GPU_HOUR_DEFAULT = "inferwatch:cost_gpu_hour_price_default:config"
PRICE_ENERGY_KWH = "inferwatch:cost_energy_kwh_price:config"  # price per kWh times PUE

# --- per GPU: labels gpu_uuid, gpu_model --------------------------------------------------------
GPU_COST_RATE = "inferwatch:cost_gpu:rate"  # what the GPU costs per second (the bill)
GPU_IDLE_COST_RATE = "inferwatch:cost_gpu_idle:rate"  # the part nobody holds
GPU_IDLE_SECONDS_RATE = "inferwatch:cost_gpu_idle_seconds:rate"  # unheld GPU-seconds per second

# --- per namespace and pod: labels namespace, pod -------------------------------------------------
ALLOCATED_GPU_SECONDS_RATE = "inferwatch:cost_allocated_gpu_seconds:rate"
BUSY_GPU_SECONDS_RATE = "inferwatch:cost_busy_gpu_seconds:rate"
ENERGY_JOULES_RATE = "inferwatch:cost_energy_joules:rate"
ALLOCATED_COST_RATE = "inferwatch:cost_allocated:rate"
BUSY_COST_RATE = "inferwatch:cost_busy:rate"
ENERGY_COST_RATE = "inferwatch:cost_energy:rate"

# --- per namespace and model: labels namespace, model_name -----------------------------------------
PROMPT_TOKENS_RATE = "inferwatch:cost_prompt_tokens:rate5m"
GENERATION_TOKENS_RATE = "inferwatch:cost_generation_tokens:rate5m"
PREFILL_SHARE = "inferwatch:cost_prefill_share:ratio"  # share of GPU time spent in prefill
MODEL_ALLOCATED_COST_RATE = "inferwatch:cost_model_allocated:rate"
MODEL_BUSY_COST_RATE = "inferwatch:cost_model_busy:rate"
MODEL_INPUT_COST_RATE = "inferwatch:cost_model_input:rate"  # allocated cost of prompt tokens
# GPU energy of the pods serving the model (joules per second), and per 1,000 tokens (prompt + generated).
MODEL_ENERGY_JOULES_RATE = "inferwatch:cost_model_energy_joules:rate"
ENERGY_PER_THOUSAND_TOKENS = "inferwatch:cost_energy_per_thousand_tokens:joules"
COST_PER_MTOK_ALLOCATED = "inferwatch:cost_per_million_tokens:allocated"
COST_PER_MTOK_USAGE = "inferwatch:cost_per_million_tokens:usage"
COST_PER_MTOK_INPUT = "inferwatch:cost_per_million_prompt_tokens:allocated"
COST_PER_MTOK_OUTPUT = "inferwatch:cost_per_million_generation_tokens:allocated"

# --- per namespace (and model) and GPU model: what the weekly report prices -----------------------
# GPU-seconds per second (joules per second for energy), all recorded in the first level from the
# same normalized inputs, so that at every evaluation held + idle = the GPUs there are, and a
# namespace's models + its part that serves no model = the namespace. The report prices GPU-hours
# with the price list (one FOCUS row per GPU model, cost = list price x GPU-hours).
# Labels namespace, gpu_model ("" absent: kube-state-metrics' requests, GPU model unknown).
SKU_ALLOCATED_GPU_SECONDS_RATE = "inferwatch:cost_sku_allocated_gpu_seconds:rate"
SKU_BUSY_GPU_SECONDS_RATE = "inferwatch:cost_sku_busy_gpu_seconds:rate"
SKU_ENERGY_JOULES_RATE = "inferwatch:cost_sku_energy_joules:rate"
# Labels namespace, model_name, gpu_model: the pods whose vLLM reports the model.
SKU_MODEL_ALLOCATED_GPU_SECONDS_RATE = "inferwatch:cost_sku_model_allocated_gpu_seconds:rate"
SKU_MODEL_BUSY_GPU_SECONDS_RATE = "inferwatch:cost_sku_model_busy_gpu_seconds:rate"
# Label gpu_model: GPU-seconds per second nobody held (whole GPUs, unheld MIG slices).
SKU_IDLE_GPU_SECONDS_RATE = "inferwatch:cost_sku_idle_gpu_seconds:rate"

# --- per tenant: the llm-d router's fairness_id (docs/cost.md, "Cost per tenant") -----------------
# Tokens the router served per tenant (prompt + completion, from the responses' usage), labels
# namespace, fairness_id; the router's "default-flow" (no header), "other" (past its cap of 1,000
# tenants) and "" (a router older than llm-d-router v0.9.0) are no tenant and left out.
TENANT_TOKENS_RATE = "inferwatch:cost_tenant_tokens:rate5m"
# A tenant's share of its namespace's tokens: its router tokens / the namespace's engine tokens (or
# the router's, where those are more), labels namespace, fairness_id.
TENANT_SHARE = "inferwatch:cost_tenant_share:ratio"
# Held GPU cost per second by tenant (labels namespace, fairness_id), and what no tenant reported
# (label namespace): tenants + unattributed = the namespace's inferwatch:cost_allocated:rate.
TENANT_ALLOCATED_COST_RATE = "inferwatch:cost_tenant_allocated:rate"
TENANT_UNATTRIBUTED_COST_RATE = "inferwatch:cost_tenant_unattributed:rate"
# The fairness ids that name no tenant.
NO_TENANT_IDS = ("", "default-flow", "other")

# --- per LoRA adapter: vLLM's running adapters (docs/cost.md, "Cost per LoRA adapter") ------------
# Each running adapter's share of its pod (1 / the adapters running on the pod: vLLM names them but
# does not count their requests), labels namespace, pod, model_name, lora_adapter.
LORA_SHARE = "inferwatch:cost_lora_share:ratio"
# Held GPU cost per second by adapter (labels namespace, model_name, lora_adapter); the model's
# inferwatch:cost_model_allocated:rate minus its adapters is the time no adapter was running.
LORA_ALLOCATED_COST_RATE = "inferwatch:cost_lora_allocated:rate"

# --- the recording itself: did the cost rules run (docs/cost.md, "When Prometheus was down") ------
# Recorded by every cost group at every evaluation, label `rule_group` (the group's name); the value
# is the group's interval in seconds: the time each evaluation stands for. So sum_over_time(...[1h])
# is the part of the last hour the group recorded (3600 when it ran at every evaluation), whatever
# the configured interval, and a missing sample is a gap in the cost recording.
RECORDING_HEARTBEAT = "inferwatch:cost_recording:heartbeat"
RULE_GROUP_LABEL = "rule_group"
# The group whose series the weekly report prices (the report's coverage counts its evaluations).
PRICED_GROUP = f"{GROUP_PREFIX}-level0"
# The alert on a gap in the cost recording, and its `reason` label's values.
ALERT_RECORDING_GAP = "InferwatchCostRecordingGap"
GAP_REASON_LABEL = "reason"
GAP_REASON_GAP = "gap"  # a group recorded less than the whole last hour (after running before it)
GAP_REASON_STOPPED = "stopped"  # a group that ran within the last day has recorded nothing for STOPPED_AFTER
GAP_WINDOW = "1h"
# Longer than the longest interval a cost group may have (pricing.rule_interval_s <= 600 s) plus a
# missed evaluation: a group silent this long has stopped, whatever its interval.
STOPPED_AFTER = "15m"
# How long a group that stopped is still expected back (then it is taken as removed).
GAP_MEMORY = "1d"
