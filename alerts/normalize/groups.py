"""The normalization layer as rule groups: the only rules that read raw series.

Raw series are vLLM's and SGLang's (`vllm:*`, `sglang:*`), the llm-d router's (`llm_d_epp_*` and
its older names), GPU exporters' (`DCGM_*`, `inferwatch_*`) and kube-state-metrics'. Each rule
records one `inferwatch:*` name of inferwatch.conventions.normalized from every source a real
fleet has, so a rename upstream or a second engine never blanks a dashboard. Every rule is
built from data (the source tables of the modules beside this one), in pure functions.
"""

from __future__ import annotations

from inferwatch.alerts.normalize.engines import engine_rules, engine_target_up
from inferwatch.alerts.normalize.gpu import dashboard_rules, gpu_exporter_target_up, gpu_rules, kube_rules
from inferwatch.alerts.normalize.router import router_rules
from inferwatch.rules import RuleGroup

# Groups whose names start with this prefix are the normalization layer; no other group may
# name a raw metric (tests/alerts/test_generated.py checks every generated rule file).
NORMALIZE_GROUP_PREFIX = "inferwatch-normalize"


def normalization_groups() -> tuple[RuleGroup, ...]:
    """The normalization layer as rule groups (pure; the same every time)."""
    return (
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-vllm", tuple(engine_rules())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-gpu", tuple(gpu_rules())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-kube", (*kube_rules(), engine_target_up(), gpu_exporter_target_up())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-dashboards", tuple(dashboard_rules())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-router", tuple(router_rules())),
    )
