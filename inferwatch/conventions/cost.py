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
