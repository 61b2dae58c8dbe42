"""What each serving engine reports: the Serving engines table and the "not reported by this engine" markers.

vLLM and SGLang feed the same engine series, but SGLang lacks some
(inferwatch.conventions.normalized.NOT_REPORTED). A panel over such a series would simply leave
an SGLang model out; instead it carries a marker target: one NaN series per model served by an
engine that lacks the series, whose legend says so and whose value shows as "not reported by
this engine" (a NaN draws no line and no point, so the marker never passes for a measurement).
The Serving engines table lists every model with its engine and what that engine does not report.
"""

from __future__ import annotations

from inferwatch.conventions import normalized as n
from inferwatch.dashboards import variables
from inferwatch.dashboards.model import NEUTRAL, Panel, Query, Step

NOT_REPORTED_TEXT = "not reported by this engine"
NOT_REPORTED_LABEL = "not_reported_by_this_engine"
_BY = f"{n.NAMESPACE}, {n.MODEL}, {n.SERVING_ENGINE}"


def lacking(*keys: str) -> tuple[str, ...]:
    """The engines that report none of ``keys`` (NOT_REPORTED keys), in the conventions' order."""
    return tuple(e for e in n.SERVING_ENGINES if all(k in n.NOT_REPORTED.get(e, {}) for k in keys))


def marker(what: str, *keys: str) -> Query | None:
    """A NaN series per model whose engine reports none of ``keys``; None when every engine reports them."""
    engines = lacking(*keys)
    if not engines:
        return None
    selector = f'{variables.VLLM_FILTER},{n.SERVING_ENGINE}=~"{"|".join(engines)}"'
    return Query(
        f"group by ({_BY}) ({n.SERVING_ENGINE_INFO}{{{selector}}}) * NaN",
        f"{what}: {NOT_REPORTED_TEXT} ({{{{serving_engine}}}} {{{{namespace}}}}/{{{{model_name}}}})",
    )


def engines_table() -> Panel:
    """One line per model and engine: pods, and what the engine does not report."""
    parts = []
    for engine in n.SERVING_ENGINES:
        missing = ", ".join(n.NOT_REPORTED.get(engine, {}).values()) or "nothing inferwatch reads"
        selector = f'{variables.VLLM_FILTER},{n.SERVING_ENGINE}="{engine}"'
        parts.append(
            f'label_replace({n.SERVING_ENGINE_INFO}{{{selector}}}, "{NOT_REPORTED_LABEL}", "{missing}", "", "")'
        )
    expr = f"count by ({_BY}, {NOT_REPORTED_LABEL}) (\n" + "\nor\n".join(parts) + "\n)"
    return Panel(
        "table",
        "Serving engines",
        f"Pods per model and serving engine (vLLM or SGLang), from `{n.SERVING_ENGINE_INFO}`, and what that "
        "engine does not report: panels over those series show the model as 'not reported by this engine' "
        "instead of leaving it out. SGLang's prefix-cache, token and latency series feed the same panels as vLLM's.",
        "short",
        (Query(expr, "pods"),),
        width=24,
        height=5,
        thresholds=(Step(None, NEUTRAL),),
    )
