"""Input series of the SLO rules' promtool tests: normalized rates and the normalized counters behind them.

The SLO rules read two kinds of normalized series: 5-minute rates (the 5-minute window and the
dashboards) and per-pod counters (the checkpoints every longer window counts). A scenario states
events per second, minute by minute, in promtool's notation ("10x59 0x60"); the counters are
those events added up, from a large base so a window's start is never read as the counter's
zero. The SLO rule file under test holds the SLO's own groups only: the normalized inputs are
given, as the normalization rules would have recorded them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from inferwatch.config.durations import duration_seconds
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.promql import format_number
from inferwatch.rules import RecordingRule, RuleFile, RuleGroup, to_prometheus_yaml
from inferwatch.slo.model import SLO
from inferwatch.slo.rules import slo_groups

COUNT = norm.histogram_series("ttft", "count")
BUCKET = norm.histogram_series("ttft", "bucket")
FINISHED = norm.VLLM_REQUESTS_FINISHED_RATE
HTTP = norm.VLLM_HTTP_REQUESTS_RATE
COUNT_SUM = norm.counter_series("ttft", "count")
BUCKET_SUM = norm.counter_series("ttft", "bucket")
FINISHED_SUM = norm.VLLM_REQUESTS_FINISHED_COUNTER
HTTP_SUM = norm.VLLM_HTTP_REQUESTS_COUNTER
# Counters of pods that started long ago: a window's first checkpoint is far from the counter's zero.
BASE = 1_000_000.0
STEP_S = 60

Values = list[float | None]


def expand(notation: str) -> Values:
    """promtool's series notation (`a`, `axn`, `_`, `_xn`) as one value (or None) per minute."""
    out: Values = []
    for token in notation.split():
        if "x" in token:
            head, count = token.split("x")
            out += [None if head == "_" else float(head)] * (int(count) + 1)
        else:
            out.append(None if token == "_" else float(token))
    return out


def notation(values: Sequence[float | None]) -> str:
    """Values (None: no sample) in promtool's notation, one per minute."""
    return " ".join("_" if v is None else format_number(v, significant=None) for v in values)


def counter(rates: Sequence[float | None], base: float = BASE) -> Values:
    """The counter whose increase each minute is that minute's rate times 60 s (None: not scraped)."""
    out: Values = []
    value = base
    for i, r in enumerate(rates):
        if r is not None and i > 0:
            value += r * STEP_S
        out.append(None if r is None else value)
    return out


def pair(rate_name: str, counter_name: str, labels: str, rates: str, base: float = BASE) -> list[dict[str, str]]:
    """A normalized rate series and its counter, for one label set (`a="x",b="y"`)."""
    values = expand(rates)
    return [
        {"series": f"{rate_name}{{{labels}}}", "values": rates},
        {"series": f"{counter_name}{{{labels}}}", "values": notation(counter(values, base))},
    ]


def hist(ns: str, le: str, total: str, good: str, pod: str = "p1") -> list[dict[str, str]]:
    """TTFT count and the `le` bucket at the threshold (and one above it) for one pod, rates and counters."""
    labels = f'namespace="{ns}",model_name="m",pod="{pod}"'
    return [
        *pair(COUNT, COUNT_SUM, labels, total),
        *pair(BUCKET, BUCKET_SUM, f'{labels},le="{le}"', good, BASE * 0.99),
        # a bucket above the threshold must never be read as good
        *pair(BUCKET, BUCKET_SUM, f'{labels},le="2.5"', total),
    ]


def events(rates: Sequence[float | None], after: int, until: int) -> float:
    """Events counted by the counter of ``rates`` in minutes (after, until]."""
    return sum((r or 0.0) * STEP_S for r in rates[after + 1 : until + 1])


def burn(good: Sequence[float | None], total: Sequence[float | None], after: int, until: int, budget: float) -> float:
    """The burn rate of the events in minutes (after, until]."""
    return (1 - events(good, after, until) / events(total, after, until)) / budget


def close(selector: str, value: float, eval_time: str, tolerance: float = 1e-9) -> dict[str, object]:
    """A promql_expr_test that ``selector`` (one series) is ``value`` within ``tolerance`` (relative).

    Where good and total are sums of several counters, the quotient's last digits depend on the
    order of additions; the comparison yields 1 with the series' labels (the name dropped).
    """
    labels = selector[selector.index("{") :]
    return {
        "expr": f"abs({selector} - {value!r}) < bool {abs(value) * tolerance!r}",
        "eval_time": eval_time,
        "exp_samples": [{"labels": labels, "value": 1}],
    }


def at_its_interval(group: RuleGroup) -> RuleGroup:
    """The checkpoint group recording only on the minutes Prometheus would run it (at its own interval,
    from minute 0): promtool evaluates every group at the test's interval (a minute), whatever its own.

    The minutes between are empty evaluations; the rules that read its series read them over ranges,
    which a staleness marker after an empty evaluation does not change.
    """
    if not group.name.endswith(c.CHECKPOINT_GROUP_SUFFIX):
        return group
    seconds = duration_seconds(group.interval or "1m")
    return only_when(group, f"vector(time()) % {seconds} == 0")


def only_when(group: RuleGroup, condition: str) -> RuleGroup:
    """``group`` whose recording rules record nothing at the evaluations where ``condition`` (a
    PromQL vector, empty or not) is empty."""
    return dataclasses.replace(
        group,
        rules=tuple(
            dataclasses.replace(r, expr=f"(\n{r.expr}\n)\nand on () ({condition})")
            if isinstance(r, RecordingRule)
            else r
            for r in group.rules
        ),
    )


def write_rules(path: Path, slo: SLO) -> str:
    """The SLO's own groups (not the shared counter group: its normalized counters are inputs) as
    ``path``, the checkpoint group at its own interval (`at_its_interval`)."""
    path.write_text(to_prometheus_yaml(RuleFile(tuple(at_its_interval(g) for g in slo_groups(slo)))))
    return path.name
