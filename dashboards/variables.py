"""Dashboard variables, and substituting them into PromQL the way Grafana does.

Variables chain datasource -> namespace -> model_name -> pod (and node -> gpu_model on the GPU
dashboard) and refresh on time-range change. The validator substitutes them to check that
every expression parses; the preview substitutes the values a user would see selected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inferwatch.conventions import normalized as n
from inferwatch.dashboards.model import Variable
from inferwatch.promql import escape_label_value, escape_regex_value

DATASOURCE = Variable("datasource", "Data source", "prometheus", kind="datasource")
_VLLM = n.VLLM_REQUESTS_RUNNING
NAMESPACE = Variable(n.NAMESPACE, "Namespace", f"label_values({_VLLM}, {n.NAMESPACE})")
MODEL = Variable(n.MODEL, "Model", f'label_values({_VLLM}{{{n.NAMESPACE}=~"$namespace"}}, {n.MODEL})')
POD = Variable(n.POD, "Pod", f'label_values({_VLLM}{{{n.NAMESPACE}=~"$namespace",{n.MODEL}=~"$model_name"}}, {n.POD})')
NODE = Variable(n.NODE, "Node", f"label_values({n.GPU_NODE_INFO}, {n.NODE})")
GPU_MODEL = Variable(n.GPU_MODEL, "GPU model", f'label_values({n.GPU_NODE_INFO}{{{n.NODE}=~"$node"}}, {n.GPU_MODEL})')

# Every SLO Prometheus records, from inferwatch.yaml and InferenceSLO objects alike (`<namespace>/<name>`).
SLO = Variable("slo", "SLO", "label_values(inferwatch:slo_error_budget_remaining:ratio, slo)")

COMMON: tuple[Variable, ...] = (DATASOURCE, NAMESPACE, MODEL, POD)
GPU: tuple[Variable, ...] = (*COMMON, NODE, GPU_MODEL)

# A selector of the vLLM series filtered by the common variables.
VLLM_FILTER = f'{n.NAMESPACE}=~"$namespace",{n.MODEL}=~"$model_name",{n.POD}=~"$pod"'

_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\)$", re.S)
_VAR = re.compile(r"\$(?:\{(?P<braced>[a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|(?P<plain>[a-zA-Z_][a-zA-Z0-9_]*))")


def label_values_query(query: str) -> tuple[str, str]:
    """(selector, label) of a `label_values(selector, label)` variable query; ValueError otherwise."""
    m = _LABEL_VALUES.match(query.strip())
    if not m:
        raise ValueError(f"not a label_values(selector, label) query: {query!r}")
    return m.group("selector").strip(), m.group("label")


def regex_of(values: Sequence[str]) -> str:
    """A multi-value selection as Grafana formats it for Prometheus: `(a|b)`, each value regex-escaped.

    The result goes inside a double-quoted `=~` matcher, so it is escaped for that too.
    """
    escaped = [escape_regex_value(v) for v in values]
    pattern = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return escape_label_value(pattern)


def duration(seconds: float) -> str:
    """Seconds as the Prometheus duration Grafana substitutes for `$__interval` (e.g. 15s, 2m, 1h)."""
    s = max(1, math.ceil(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


@dataclass(frozen=True)
class Interval:
    """The built-in interval variables of one query, as Grafana computes them."""

    interval_s: float
    rate_interval_s: float
    range_s: float


def intervals(range_s: float, max_points: int, scrape_interval_s: float) -> Interval:
    """`$__interval` (range / points, at least the scrape interval), `$__rate_interval`
    (max(interval + scrape interval, 4 x scrape interval)) and `$__range`, as Grafana does."""
    interval = max(range_s / max_points, scrape_interval_s)
    rate = max(interval + scrape_interval_s, 4 * scrape_interval_s)
    return Interval(interval, rate, range_s)


def substitute(expr: str, values: Mapping[str, str], iv: Interval) -> str:
    """``expr`` with `$var` / `${var}` replaced by ``values`` (already formatted) and the built-ins.

    Raises KeyError naming a variable that is neither given nor built in.
    """
    builtins = {
        "__interval": duration(iv.interval_s),
        "__rate_interval": duration(iv.rate_interval_s),
        "__range": duration(iv.range_s),
        "__range_s": str(int(iv.range_s)),
        "__interval_ms": str(int(iv.interval_s * 1000)),
    }

    def replace(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        if name in builtins:
            return builtins[name]
        if name in values:
            return values[name]
        raise KeyError(name)

    return _VAR.sub(replace, expr)
