"""Energy per token: the joules of 1,000 tokens per namespace and model, as recording rules.

A pod's GPU energy is its share of each GPU it holds times the GPU's energy counter rate
(`inferwatch:cost_energy_joules:rate`, from the inferwatch exporter's or dcgm-exporter's
counter); a model's is the sum over the pods whose engine (vLLM or SGLang) reports it. Divided by
the model's prompt + generated tokens per second it is joules per token; times 1,000 the figure
the dashboards and the weekly report show beside the cost of 1M tokens. Like that cost, it
charges an idle-but-held GPU's energy to the tokens its holder serves.
"""

from __future__ import annotations

from inferwatch.config import Pricing
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.rules import RecordingRule, RuleGroup

_NS_POD = f"{n.NAMESPACE}, {n.POD}"
_NS_MODEL = f"{n.NAMESPACE}, {n.MODEL}"
TOKENS_PER_FIGURE = 1000
# The model each pod serves (a pod without engine metrics maps to no model).
_POD_MODEL = f"group by ({n.NAMESPACE}, {n.POD}, {n.MODEL}) ({n.VLLM_PROMPT_TOKENS_RATE})"


def energy_group(pricing: Pricing) -> RuleGroup:
    """Joules per second and per 1,000 tokens per namespace and model.

    Both read only the first cost level's series (never each other), so the group is one level
    after it and both figures of one evaluation agree.
    """
    tokens = f"({c.PROMPT_TOKENS_RATE} + on ({_NS_MODEL}) {c.GENERATION_TOKENS_RATE} > 0)"
    by_model = f"* on ({_NS_POD}) group_left ({n.MODEL})"
    energy = f"sum by ({_NS_MODEL}) (\n  {c.ENERGY_JOULES_RATE}\n  {by_model}\n  {_POD_MODEL}\n)"
    return RuleGroup(
        f"{c.GROUP_PREFIX}-energy",
        (
            RecordingRule(c.MODEL_ENERGY_JOULES_RATE, energy),
            RecordingRule(c.ENERGY_PER_THOUSAND_TOKENS, f"{energy}\n/ on ({_NS_MODEL}) {tokens} * {TOKENS_PER_FIGURE}"),
        ),
        interval=f"{pricing.rule_interval_s}s",
    )
