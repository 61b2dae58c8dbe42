"""Cost per tenant and per LoRA adapter, as recording rules: shares first, then held cost split by them.

- **Tenants** are the llm-d router's `fairness_id` (the x-llm-d-inference-fairness-id request
  header). A tenant's share of a namespace is its router tokens (prompt + completion, from the
  responses' usage) over the namespace's tokens as its engines count them (or the router's, where
  the router counted more: the engines' counters advance when a request finishes). Its cost is the
  namespace's held GPU cost times that share, at every evaluation; what no tenant reported — the
  router's "default-flow" (no header) and "other" (past its 1,000-tenant cap), and tokens that did
  not pass through the router or came back without usage — is the namespace's cost minus its
  tenants', recorded on its own so that tenants + unattributed = the namespace.
- **LoRA adapters** come from vLLM's running-adapter list (`inferwatch:vllm_lora_adapter:info`,
  one series per adapter with at least one running request). vLLM does not export how many
  requests each adapter runs, so each running adapter counts as one: a pod's held cost is split
  equally among the adapters it runs at each evaluation, and a model's cost minus its adapters'
  is the time no adapter ran (docs/cost.md states the approximation).

Two groups after the cost levels, each reading only earlier ones: tenants' tokens and adapters'
shares (normalized series), then tenants' shares and the split cost (those, the first level's
tokens and the second level's `inferwatch:cost_allocated:rate`).
"""

from __future__ import annotations

from inferwatch.config import Pricing
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.promql import escape_label_value, escape_regex_value
from inferwatch.rules import RecordingRule, RuleGroup

_NS = n.NAMESPACE
_NS_TENANT = f"{n.NAMESPACE}, {n.FAIRNESS_ID}"
_NS_POD = f"{n.NAMESPACE}, {n.POD}"
_ADAPTER_BY = f"{n.NAMESPACE}, {n.MODEL}, {n.LORA_ADAPTER}"


def _both(by: str, left: str, right: str) -> str:
    """``left + right`` summed by ``by``, either alone where the other has no series."""
    a, b = f"sum by ({by}) ({left})", f"sum by ({by}) ({right})"
    return f"(\n  {a}\n  + on ({by})\n  {b}\n)\nor on ({by}) {a}\nor on ({by}) {b}"


def _tenant_selector() -> str:
    ids = "|".join(escape_regex_value(i) for i in c.NO_TENANT_IDS)
    return f'{{{n.FAIRNESS_ID}!~"{escape_label_value(ids)}"}}'


def _tenant_share() -> str:
    """Each tenant's tokens / its namespace's: the engines' count, or the router's where it counted more."""
    engine = _both(_NS, c.PROMPT_TOKENS_RATE, c.GENERATION_TOKENS_RATE)
    router_all = _both(_NS, n.ROUTER_INPUT_TOKENS_RATE, n.ROUTER_OUTPUT_TOKENS_RATE)
    whole = f"(\n  (\n({engine})\n  >= on ({_NS})\n({router_all})\n  )\n  or on ({_NS})\n({router_all})\n)"
    return f"{c.TENANT_TOKENS_RATE}\n/ on ({_NS}) group_left ()\n(\n{whole}\n> 0\n)"


def share_rules() -> list[RecordingRule]:
    """Each tenant's tokens; each running adapter's share of its pod."""
    tenants = _tenant_selector()
    router = (f"{n.ROUTER_INPUT_TOKENS_RATE}{tenants}", f"{n.ROUTER_OUTPUT_TOKENS_RATE}{tenants}")
    running = f'{n.VLLM_LORA_ADAPTERS}{{{n.LORA_STATE}="running"}}'
    return [
        RecordingRule(c.TENANT_TOKENS_RATE, _both(_NS_TENANT, *router)),
        RecordingRule(
            c.LORA_SHARE,
            f"sum by ({_NS_POD}, {n.MODEL}, {n.LORA_ADAPTER}) (\n  {running}\n"
            f"  / on ({_NS_POD}) group_left ()\n  count by ({_NS_POD}) ({running})\n)",
        ),
    ]


def split_rules() -> list[RecordingRule]:
    """Tenant shares, held GPU cost by tenant and what no tenant reported; held GPU cost by running adapter.

    The cost rules spell the share out rather than read it: each reads only earlier groups, so all
    three agree at every evaluation.
    """
    share = _tenant_share()
    ns_cost = f"sum by ({_NS}) ({c.ALLOCATED_COST_RATE})"
    tenant_cost = f"(\n{share}\n)\n* on ({_NS}) group_left ()\n{ns_cost}"
    return [
        RecordingRule(c.TENANT_SHARE, share),
        RecordingRule(c.TENANT_ALLOCATED_COST_RATE, tenant_cost),
        RecordingRule(
            c.TENANT_UNATTRIBUTED_COST_RATE,
            # Shares add up to at most 1 (the whole is at least the router's tokens): never below 0.
            f"clamp_min(\n{ns_cost}\n- on ({_NS})\nsum by ({_NS}) (\n{tenant_cost}\n),\n0\n)\nor on ({_NS})\n{ns_cost}",
        ),
        RecordingRule(
            c.LORA_ALLOCATED_COST_RATE,
            f"sum by ({_ADAPTER_BY}) (\n  {c.LORA_SHARE}\n  * on ({_NS_POD}) group_left ()\n"
            f"  {c.ALLOCATED_COST_RATE}\n)",
        ),
    ]


def attribution_groups(pricing: Pricing) -> tuple[RuleGroup, RuleGroup]:
    """The shares (after the first cost level) and the split cost (after the second and the shares)."""
    interval = f"{pricing.rule_interval_s}s"
    return (
        RuleGroup(f"{c.GROUP_PREFIX}-shares", tuple(share_rules()), interval=interval),
        RuleGroup(f"{c.GROUP_PREFIX}-attribution", tuple(split_rules()), interval=interval),
    )
