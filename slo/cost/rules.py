"""Cost recording rules, generated from the pricing config: Prometheus computes every cost.

The rules form dependency levels; each level is one rule group, and a rule reads only the
normalized `inferwatch:*` series (inferwatch.conventions.normalized) and rules of earlier levels.
Levels matter twice: Prometheus evaluates groups concurrently (a later level may lag an
interval, harmless over a week), and `promtool tsdb create-blocks-from rules` backfills one
level per pass.

Attribution (docs/cost.md explains it for readers):

- a GPU costs its model's GPU-hour price every second it exists (`inferwatch:gpu_info`);
- a container holding a share of a GPU (1 exclusive, 1/N time-sliced, slices/max for MIG)
  pays that share; shares of one GPU are scaled down when they add up to more than 1, so
  namespaces never pay more than the GPU costs;
- what nobody holds is idle cost, per GPU; namespaces + idle = the cluster's GPU bill;
- usage-based cost is the held cost times the GPU's busy ratio; allocated / usage = utilization;
- the cost of a model is the cost of the pods whose vLLM reports that model;
- input vs output: a model's cost splits by measured prefill vs decode time, or, when those
  histograms are missing, by token counts (every token weighs the same);
- what the weekly report prices (the ``SKU_*`` series): GPU-seconds held, busy and idle and joules
  per namespace (and model) and GPU model, all in the first level from the same inputs, so that
  held + idle = the GPUs and a namespace's models + the rest = the namespace at every evaluation.

Every group also records a heartbeat (`inferwatch:cost_recording:heartbeat`, label `rule_group`, the
value the group's interval in seconds): the recording ran. A Prometheus outage or a missed
evaluation leaves no heartbeat and no cost sample; the report counts only what was recorded
(coverage in recorded hours, gaps named) and InferwatchCostRecordingGap says so (docs/cost.md,
"When Prometheus was down").
"""

from __future__ import annotations

from dataclasses import replace
from textwrap import indent

from inferwatch.config import Pricing
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup
from inferwatch.slo.cost.attribution import attribution_groups
from inferwatch.slo.cost.energy import energy_group

_NS_POD = f"{n.NAMESPACE}, {n.POD}"
_NS_MODEL = f"{n.NAMESPACE}, {n.MODEL}"
_MTOK = 1_000_000
_SECONDS_PER_HOUR = 3600
_JOULES_PER_KWH = 3_600_000

# Each container's share of its GPU, scaled so the shares of one GPU add up to at most 1.
_SHARE = (
    f"{n.GPU_ALLOCATION}\n"
    f"  / on ({n.GPU_UUID}) group_left ()\n"
    f"  clamp_min(sum by ({n.GPU_UUID}) ({n.GPU_ALLOCATION}), 1)"
)
_HELD = f"clamp_max(sum by ({n.GPU_UUID}) ({n.GPU_ALLOCATION}), 1)"
# The vLLM model each pod serves (a pod without vLLM metrics maps to no model).
_POD_MODEL = f"group by ({n.NAMESPACE}, {n.POD}, {n.MODEL}) ({n.VLLM_PROMPT_TOKENS_RATE})"
# Each container's share of its GPU, with the GPU's model (what the price list prices).
_SHARE_OF_MODEL = f"{_SHARE}\n* on ({n.GPU_UUID}) group_left ({n.GPU_MODEL})\n{n.GPU_INFO}"
# Without the DaemonSet: kube-state-metrics' GPU requests of pods no GPU is attributed to (model unknown).
_REQUESTED_ONLY = f"({n.GPU_REQUESTED} unless on ({_NS_POD}) {n.GPU_ALLOCATION})"
_TO_MODEL = f"* on ({_NS_POD}) group_left ({n.MODEL})\n{_POD_MODEL}"


def _price_rules(pricing: Pricing) -> list[RecordingRule]:
    rules = [RecordingRule(c.PRICE_GPU_HOUR_DEFAULT, f"vector({pricing.default_gpu_hour!r})")]
    rules += [
        RecordingRule(c.PRICE_GPU_HOUR, f"vector({price!r})", {n.GPU_MODEL: model})
        for model, price in sorted(pricing.gpu_hour.items())
    ]
    if pricing.energy_kwh is not None:
        rules.append(RecordingRule(c.PRICE_ENERGY_KWH, f"vector({pricing.energy_kwh * pricing.pue!r})"))
    return rules


def _level0(pricing: Pricing) -> list[RecordingRule]:
    """Prices, and what reads only normalized series."""
    per_model = f"sum by ({_NS_MODEL}) ({{}})"
    prefill = per_model.format(n.histogram_series("prefill", "sum"))
    decode = per_model.format(n.histogram_series("decode", "sum"))
    prompt = per_model.format(n.VLLM_PROMPT_TOKENS_RATE)
    generation = per_model.format(n.VLLM_GENERATION_TOKENS_RATE)
    return [
        *_price_rules(pricing),
        RecordingRule(
            c.ALLOCATED_GPU_SECONDS_RATE,
            f"sum by ({_NS_POD}) ({_SHARE})\n"
            # Without the DaemonSet, kube-state-metrics' GPU requests: whole GPUs, model unknown.
            f"or on ({_NS_POD})\n"
            f"sum by ({_NS_POD}) ({n.GPU_REQUESTED})",
        ),
        RecordingRule(
            c.BUSY_GPU_SECONDS_RATE,
            f"sum by ({_NS_POD}) (\n  {_SHARE}\n  * on ({n.GPU_UUID}) group_left ()\n  {n.GPU_BUSY_RATE}\n)",
        ),
        RecordingRule(
            c.ENERGY_JOULES_RATE,
            f"sum by ({_NS_POD}) (\n  {_SHARE}\n  * on ({n.GPU_UUID}) group_left ()\n  {n.GPU_ENERGY_RATE}\n)",
        ),
        RecordingRule(c.PROMPT_TOKENS_RATE, prompt),
        RecordingRule(c.GENERATION_TOKENS_RATE, generation),
        RecordingRule(
            c.PREFILL_SHARE,
            f"{prefill}\n  / ({prefill} + {decode} > 0)\n"
            # Fallback without prefill/decode histograms: every token weighs the same.
            f"or on ({_NS_MODEL})\n"
            f"{prompt}\n  / ({prompt} + {generation} > 0)",
        ),
        RecordingRule(
            c.GPU_IDLE_SECONDS_RATE,
            f"(1 - {_HELD})\nor on ({n.GPU_UUID})\n(group by ({n.GPU_UUID}) ({n.GPU_INFO}))",
        ),
        *_sku_rules(),
    ]


def _sku_rules() -> list[RecordingRule]:
    """What the weekly report prices: GPU-seconds held, busy and idle, and joules, per GPU model.

    All read only normalized series, so they are evaluated together at every evaluation: held
    plus idle is every GPU there is, and a namespace's models plus its pods that serve no model
    are the namespace. Aggregated before they are recorded: per namespace (and model) and GPU
    model, not per pod or GPU.
    """
    ns_gpu = f"{n.NAMESPACE}, {n.GPU_MODEL}"
    ns_model_gpu = f"{n.NAMESPACE}, {n.MODEL}, {n.GPU_MODEL}"

    def sum_by(by: str, *parts: str) -> str:
        body = "\n".join(parts)
        return f"sum by ({by}) (\n{indent(body, '  ')}\n)"

    def times(series: str) -> str:
        return f"{_SHARE_OF_MODEL}\n* on ({n.GPU_UUID}) group_left ()\n{series}"

    idle = (
        f"{n.GPU_INFO} * on ({n.GPU_UUID}) group_left () (1 - {_HELD})\n"
        f"or on ({n.GPU_UUID})\ngroup by ({n.GPU_UUID}, {n.GPU_MODEL}) ({n.GPU_INFO})"
    )
    return [
        RecordingRule(
            c.SKU_ALLOCATED_GPU_SECONDS_RATE,
            f"{sum_by(ns_gpu, _SHARE_OF_MODEL)}\nor\n{sum_by(n.NAMESPACE, _REQUESTED_ONLY)}",
        ),
        RecordingRule(c.SKU_BUSY_GPU_SECONDS_RATE, sum_by(ns_gpu, times(n.GPU_BUSY_RATE))),
        RecordingRule(c.SKU_ENERGY_JOULES_RATE, sum_by(ns_gpu, times(n.GPU_ENERGY_RATE))),
        RecordingRule(
            c.SKU_MODEL_ALLOCATED_GPU_SECONDS_RATE,
            f"{sum_by(ns_model_gpu, _SHARE_OF_MODEL, _TO_MODEL)}\nor\n"
            f"{sum_by(f'{n.NAMESPACE}, {n.MODEL}', _REQUESTED_ONLY, _TO_MODEL)}",
        ),
        RecordingRule(c.SKU_MODEL_BUSY_GPU_SECONDS_RATE, sum_by(ns_model_gpu, times(n.GPU_BUSY_RATE), _TO_MODEL)),
        RecordingRule(c.SKU_IDLE_GPU_SECONDS_RATE, sum_by(n.GPU_MODEL, idle)),
    ]


def _level1() -> list[RecordingRule]:
    """What a GPU costs per second: its model's price, or the default price."""
    hour = _SECONDS_PER_HOUR
    rules = [
        RecordingRule(
            c.GPU_COST_RATE,
            f"{n.GPU_INFO} * on ({n.GPU_MODEL}) group_left () {c.PRICE_GPU_HOUR} / {hour}\n"
            f"or on ({n.GPU_UUID})\n"
            f"{n.GPU_INFO} * on () group_left () {c.PRICE_GPU_HOUR_DEFAULT} / {hour}",
        ),
    ]
    return rules


def _level2(pricing: Pricing) -> list[RecordingRule]:
    """Per namespace and pod: held cost, busy cost, energy cost; per GPU: idle cost."""
    hour = _SECONDS_PER_HOUR
    rules = [
        RecordingRule(
            c.ALLOCATED_COST_RATE,
            f"sum by ({_NS_POD}) (\n  {_SHARE}\n  * on ({n.GPU_UUID}) group_left ()\n  {c.GPU_COST_RATE}\n)\n"
            f"or on ({_NS_POD})\n"
            f"sum by ({_NS_POD}) ({n.GPU_REQUESTED}) * on () group_left () {c.PRICE_GPU_HOUR_DEFAULT} / {hour}",
        ),
        RecordingRule(
            c.BUSY_COST_RATE,
            f"sum by ({_NS_POD}) (\n  {_SHARE}\n  * on ({n.GPU_UUID}) group_left ()\n"
            f"  ({c.GPU_COST_RATE} * on ({n.GPU_UUID}) group_left () {n.GPU_BUSY_RATE})\n)",
        ),
        RecordingRule(
            c.GPU_IDLE_COST_RATE,
            # The fallback is made nameless (`* 1`) like the first branch: MetricsQL fills `or` point by
            # point, and a named fallback beside the nameless product is the same labelset twice there.
            f"{c.GPU_COST_RATE} * on ({n.GPU_UUID}) group_left () (1 - {_HELD})\n"
            f"or on ({n.GPU_UUID})\n"
            f"{c.GPU_COST_RATE} * 1",
        ),
    ]
    if pricing.energy_kwh is not None:
        rules.append(
            RecordingRule(
                c.ENERGY_COST_RATE,
                f"{c.ENERGY_JOULES_RATE} * on () group_left () {c.PRICE_ENERGY_KWH} / {_JOULES_PER_KWH}",
            )
        )
    return rules


def _level3() -> list[RecordingRule]:
    """Per namespace and model: the cost of the pods serving the model."""

    def by_model(series: str) -> str:
        return f"sum by ({_NS_MODEL}) (\n  {series}\n  * on ({_NS_POD}) group_left ({n.MODEL})\n  {_POD_MODEL}\n)"

    return [
        RecordingRule(c.MODEL_ALLOCATED_COST_RATE, by_model(c.ALLOCATED_COST_RATE)),
        RecordingRule(c.MODEL_BUSY_COST_RATE, by_model(c.BUSY_COST_RATE)),
    ]


def _level4() -> list[RecordingRule]:
    """Per namespace and model: input cost and instantaneous cost per million tokens."""
    tokens = f"({c.PROMPT_TOKENS_RATE} + on ({_NS_MODEL}) {c.GENERATION_TOKENS_RATE} > 0)"
    input_cost = f"{c.MODEL_ALLOCATED_COST_RATE} * on ({_NS_MODEL}) {c.PREFILL_SHARE}"
    output_cost = f"{c.MODEL_ALLOCATED_COST_RATE} * on ({_NS_MODEL}) (1 - {c.PREFILL_SHARE})"
    return [
        RecordingRule(c.MODEL_INPUT_COST_RATE, input_cost),
        RecordingRule(
            c.COST_PER_MTOK_ALLOCATED, f"{c.MODEL_ALLOCATED_COST_RATE} / on ({_NS_MODEL}) {tokens} * {_MTOK}"
        ),
        RecordingRule(c.COST_PER_MTOK_USAGE, f"{c.MODEL_BUSY_COST_RATE} / on ({_NS_MODEL}) {tokens} * {_MTOK}"),
        RecordingRule(
            c.COST_PER_MTOK_INPUT, f"{input_cost}\n  / on ({_NS_MODEL}) ({c.PROMPT_TOKENS_RATE} > 0) * {_MTOK}"
        ),
        RecordingRule(
            c.COST_PER_MTOK_OUTPUT, f"{output_cost}\n  / on ({_NS_MODEL}) ({c.GENERATION_TOKENS_RATE} > 0) * {_MTOK}"
        ),
    ]


def heartbeat_rule(group: str, interval_s: int) -> RecordingRule:
    """The group ran: one sample per evaluation, the seconds it stands for (the group's interval)."""
    return RecordingRule(c.RECORDING_HEARTBEAT, f"vector({interval_s})", {c.RULE_GROUP_LABEL: group})


def cost_groups(pricing: Pricing) -> tuple[RuleGroup, ...]:
    """The cost rule groups: one per dependency level, then energy, tenants and adapters (every rule interval).

    Each group ends with its heartbeat (it reads nothing, so it is recorded whenever the group runs).
    """
    interval = f"{pricing.rule_interval_s}s"
    levels = [_level0(pricing), _level1(), _level2(pricing), _level3(), _level4()]
    groups = (
        *(RuleGroup(f"{c.GROUP_PREFIX}-level{i}", tuple(rules), interval=interval) for i, rules in enumerate(levels)),
        energy_group(pricing),
        *attribution_groups(pricing),
    )
    return tuple(replace(g, rules=(*g.rules, heartbeat_rule(g.name, pricing.rule_interval_s))) for g in groups)


def cost_rule_file(pricing: Pricing) -> RuleFile:
    """The cost rules as one rule file (groups in dependency order)."""
    return RuleFile(cost_groups(pricing))
