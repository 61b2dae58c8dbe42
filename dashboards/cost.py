"""The Cost dashboard: spend by namespace and model, cost per 1M tokens, idle GPUs, GPU-hours, energy per token."""

from __future__ import annotations

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.dashboards import links, variables
from inferwatch.dashboards.model import NEUTRAL, WARN, DashboardSpec, Panel, Query, Row, Step
from inferwatch.dashboards.units import currency_unit

POD_SEL = f'{n.NAMESPACE}=~"$namespace",{n.POD}=~"$pod"'
MODEL_SEL = f'{n.NAMESPACE}=~"$namespace",{n.MODEL}=~"$model_name"'
HOURLY = "3600"


def _per_hour(expr: str) -> str:
    return f"{expr} * {HOURLY}"


def _spend(config: InferwatchConfig) -> Row:
    money = currency_unit(config.pricing.currency)
    cur = config.pricing.currency
    step = config.pricing.rule_interval_s
    return Row(
        "Spend",
        (
            Panel(
                "stat",
                f"Spend in range ({cur})",
                f"Allocation-based GPU cost of the selected namespaces over the time range: "
                f"`sum_over_time({c.ALLOCATED_COST_RATE}[$__range])` times the rules' {step} s interval.",
                money,
                (Query(f"sum(sum_over_time({c.ALLOCATED_COST_RATE}{{{POD_SEL}}}[$__range])) * {step}", "spend"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
                links=(links.WEEKLY_REPORT,),
            ),
            Panel(
                "stat",
                f"Spend rate ({cur}/h)",
                f"What the selected namespaces' GPUs cost per hour now, from `{c.ALLOCATED_COST_RATE}`.",
                money,
                (Query(_per_hour(f"sum({c.ALLOCATED_COST_RATE}{{{POD_SEL}}})"), "per hour"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "stat",
                f"Idle GPU cost ({cur}/h)",
                f"What GPUs nobody holds cost per hour, from `{c.GPU_IDLE_COST_RATE}` (low is good). Next: the "
                "GPU fleet dashboard.",
                money,
                (Query(_per_hour(f"sum({c.GPU_IDLE_COST_RATE})"), "idle"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL), Step(0.01, WARN)),
                links=(links.GPU,),
            ),
            Panel(
                "stat",
                "GPU-hours in range",
                f"GPU-hours the selected namespaces held over the time range, from "
                f"`{c.ALLOCATED_GPU_SECONDS_RATE}` integrated over its {step} s interval.",
                "h",
                (
                    Query(
                        f"sum(sum_over_time({c.ALLOCATED_GPU_SECONDS_RATE}{{{POD_SEL}}}[$__range])) * {step} / 3600",
                        "GPU-hours",
                    ),
                ),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "timeseries",
                f"Spend by namespace ({cur}/h)",
                f"Allocation-based GPU cost per hour by namespace, from `{c.ALLOCATED_COST_RATE}`; energy adds "
                f"`{c.ENERGY_COST_RATE}` where priced.",
                money,
                (Query(_per_hour(f"sum by ({n.NAMESPACE}) ({c.ALLOCATED_COST_RATE}{{{POD_SEL}}})"), "{{namespace}}"),),
                stacked=True,
                width=12,
            ),
            Panel(
                "timeseries",
                f"Spend by model ({cur}/h)",
                f"Allocation-based cost per hour by model, from `{c.MODEL_ALLOCATED_COST_RATE}`.",
                money,
                (
                    Query(
                        _per_hour(f"sum by ({n.NAMESPACE}, {n.MODEL}) ({c.MODEL_ALLOCATED_COST_RATE}{{{MODEL_SEL}}})"),
                        "{{namespace}}/{{model_name}}",
                    ),
                ),
                stacked=True,
                width=12,
            ),
        ),
    )


def _efficiency(config: InferwatchConfig) -> Row:
    money = currency_unit(config.pricing.currency)
    cur = config.pricing.currency
    tokens = (
        f"(sum by ({n.NAMESPACE}) ({c.PROMPT_TOKENS_RATE}{{{MODEL_SEL}}}) + "
        f"sum by ({n.NAMESPACE}) ({c.GENERATION_TOKENS_RATE}{{{MODEL_SEL}}}))"
    )
    gpus = f"(sum by ({n.NAMESPACE}) ({c.ALLOCATED_GPU_SECONDS_RATE}{{{POD_SEL}}}) > 0)"
    return Row(
        "Efficiency",
        (
            Panel(
                "timeseries",
                f"Cost per 1M tokens ({cur})",
                f"Allocation-based (`{c.COST_PER_MTOK_ALLOCATED}`: the GPUs a model holds) and usage-based "
                f"(`{c.COST_PER_MTOK_USAGE}`: only the time they are busy) cost of one million tokens. A wide gap "
                "means GPUs held but idle.",
                money,
                (
                    Query(f"{c.COST_PER_MTOK_ALLOCATED}{{{MODEL_SEL}}}", "allocated {{namespace}}/{{model_name}}"),
                    Query(f"{c.COST_PER_MTOK_USAGE}{{{MODEL_SEL}}}", "usage {{namespace}}/{{model_name}}"),
                ),
                width=12,
            ),
            Panel(
                "timeseries",
                f"Idle GPU cost by GPU model ({cur}/h)",
                f"Cost per hour of GPU time nobody holds, from `{c.GPU_IDLE_COST_RATE}`.",
                money,
                (Query(_per_hour(f"sum by ({n.GPU_MODEL}) ({c.GPU_IDLE_COST_RATE})"), "{{gpu_model}}"),),
                stacked=True,
                width=12,
            ),
            Panel(
                "timeseries",
                "GPUs held and busy",
                f"GPU-hours per hour by namespace: held (`{c.ALLOCATED_GPU_SECONDS_RATE}`) and busy "
                f"(`{c.BUSY_GPU_SECONDS_RATE}`).",
                "short",
                (
                    Query(
                        f"sum by ({n.NAMESPACE}) ({c.ALLOCATED_GPU_SECONDS_RATE}{{{POD_SEL}}})", "held {{namespace}}"
                    ),
                    Query(f"sum by ({n.NAMESPACE}) ({c.BUSY_GPU_SECONDS_RATE}{{{POD_SEL}}})", "busy {{namespace}}"),
                ),
                width=12,
            ),
            Panel(
                "timeseries",
                "Tokens per GPU-hour",
                f"Prompt + generated tokens per GPU-hour held, by namespace, from `{c.PROMPT_TOKENS_RATE}`, "
                f"`{c.GENERATION_TOKENS_RATE}` and `{c.ALLOCATED_GPU_SECONDS_RATE}` (high is good).",
                "short",
                (Query(f"{tokens} / {gpus} * 3600", "{{namespace}}"),),
                width=12,
            ),
        ),
    )


def _energy() -> Row:
    return Row(
        "Energy",
        (
            Panel(
                "timeseries",
                "Energy",
                f"GPU power attributed to each namespace, from `{c.ENERGY_JOULES_RATE}` (joules per second), and its "
                f"cost per hour from `{c.ENERGY_COST_RATE}` where energy is priced.",
                "watt",
                (Query(f"sum by ({n.NAMESPACE}) ({c.ENERGY_JOULES_RATE}{{{POD_SEL}}})", "{{namespace}}"),),
                width=12,
            ),
            Panel(
                "timeseries",
                "Energy per 1,000 tokens",
                f"GPU joules per 1,000 tokens (prompt + generated) by model, from `{c.ENERGY_PER_THOUSAND_TOKENS}`: "
                f"the model's pods' energy (`{c.MODEL_ENERGY_JOULES_RATE}`) over their tokens (low is good). Like the "
                "cost per 1M tokens it charges held-but-idle GPUs to the tokens their holders serve.",
                "joule",
                (Query(f"{c.ENERGY_PER_THOUSAND_TOKENS}{{{MODEL_SEL}}}", "{{namespace}}/{{model_name}}"),),
                width=12,
            ),
        ),
    )


def _breakdown(config: InferwatchConfig) -> Row:
    step = config.pricing.rule_interval_s
    return Row(
        "Breakdown",
        (
            Panel(
                "table",
                f"Spend in range by namespace and model ({config.pricing.currency})",
                f"Allocation-based cost over the time range, from `{c.MODEL_ALLOCATED_COST_RATE}`; the weekly report "
                "splits it the same way.",
                currency_unit(config.pricing.currency),
                (
                    Query(
                        f"sum by ({n.NAMESPACE}, {n.MODEL}) (sum_over_time({c.MODEL_ALLOCATED_COST_RATE}{{{MODEL_SEL}}}"
                        f"[$__range])) * {step}",
                        "spend",
                    ),
                ),
                width=24,
                height=7,
                links=(links.WEEKLY_REPORT, links.INFERENCE),
            ),
        ),
    )


def dashboard(config: InferwatchConfig) -> DashboardSpec:
    """The Cost dashboard of ``config``."""
    return DashboardSpec(
        name=links.COST_UID,
        title="inferwatch / Cost",
        description="GPU cost per namespace and model, cost per 1M tokens, idle GPUs, GPU-hours, energy and "
        "energy per 1,000 tokens.",
        variables=variables.COMMON,
        rows=(_spend(config), _efficiency(config), _energy(), _breakdown(config)),
        links=(links.WEEKLY_REPORT,),
    )
