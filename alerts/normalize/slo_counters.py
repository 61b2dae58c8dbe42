"""The raw counters the configured SLOs count, as normalized counters (values, not rates), per pod.

Unlike the rest of the normalization layer this group records counter values, not rates: the
SLOs' checkpoints (inferwatch.slo.checkpoints) read them, so a window spans a Prometheus outage
with the counters' own jump across it. vLLM's are summed over `engine`, SGLang's folded over its
rank copies and summed per pod, the same way as their rates (a pod's counters reset together,
so the sum stays a counter). A rule file for one namespace's SLOs (an InferenceSLO's) reads that
namespace's counters only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import inferwatch.alerts.normalize.sglang as sglang
from inferwatch.alerts.normalize.engines import VLLM_HISTOGRAM_SOURCES, VLLM_RUNNING, sum_over_engines
from inferwatch.alerts.normalize.expressions import first_of, float_le_buckets, labelled
from inferwatch.conventions import normalized as c
from inferwatch.promql import escape_label_value
from inferwatch.rules import RecordingRule, RuleGroup


def _raw(name: str, scope: str, *matchers: str) -> str:
    """``name{matchers, scope}``: a raw series, within the group's namespace when it has one."""
    inner = ", ".join(m for m in (*matchers, scope) if m)
    return f"{name}{{{inner}}}" if inner else name


def _histogram_rules(kind: str, patterns: Sequence[str], scope: str) -> list[RecordingRule]:
    le = f'{c.LE}=~"{escape_label_value("|".join(dict.fromkeys(patterns)))}"'
    sources = VLLM_HISTOGRAM_SOURCES[kind]
    buckets = [sum_over_engines(float_le_buckets(f"{src}_bucket", le, scope, rated=False), c.LE) for src in sources]
    counts = [sum_over_engines(_raw(f"{src}_count", scope)) for src in sources]
    family = sglang.HISTOGRAMS.get(kind)
    if family is not None:
        buckets.append(sglang.fold(float_le_buckets(f"{family}_bucket", le, scope, rated=False), c.LE))
        counts.append(sglang.fold(_raw(f"{family}_count", scope)))
    return [
        RecordingRule(c.counter_series(kind, "bucket"), first_of(buckets)),
        RecordingRule(c.counter_series(kind, "count"), first_of(counts)),
    ]


def _finished(scope: str) -> RecordingRule:
    """Finished requests by `finished_reason` (SGLang: `abort`, and FINISHED_NOT_REPORTED for the rest)."""
    success = _raw("vllm:request_success_total", scope)
    vllm = sum_over_engines(
        f'label_replace({success}, "{c.FINISHED_REASON}", "$1", "finish_reason", "(.+)")', c.FINISHED_REASON
    )
    aborted = sglang.fold(_raw("sglang:num_aborted_requests_total", scope))
    total = sglang.fold(_raw("sglang:num_requests_total", scope))
    rest = f"clamp_min({total} - ({aborted} or {total} * 0), 0)"
    sglang_finished = first_of(
        [labelled(aborted, c.FINISHED_REASON, "abort"), labelled(rest, c.FINISHED_REASON, c.FINISHED_NOT_REPORTED)]
    )
    return RecordingRule(c.VLLM_REQUESTS_FINISHED_COUNTER, first_of([vllm, sglang_finished]))


def _http_5xx(scope: str) -> RecordingRule:
    """HTTP 5xx responses of the engine's API server (vLLM's instrumentator, SGLang's own counter)."""
    http = _raw("http_requests_total", scope, f'{c.STATUS}=~"5.."')
    vllm = (
        f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
        f'  label_replace({http}, "{c.STATUS}", "${{1}}xx", "{c.STATUS}", "([1-5]).."))\n'
        f"and on ({c.NAMESPACE}, {c.POD})\n"
        f"group by ({c.NAMESPACE}, {c.POD}) ({_raw(VLLM_RUNNING, scope)})"
    )
    scrape = ", ".join(
        label for label in sglang.FOLDED if label not in ("endpoint", "tp_rank", "pp_rank", "moe_ep_rank")
    )
    sglang_5xx = _raw("sglang:http_responses_total", scope, 'status_code=~"5.."')
    responses = f"max without ({scrape}) ({sglang_5xx})"
    sglang_http = (
        f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
        f'  label_replace({responses}, "{c.STATUS}", "${{1}}xx", "status_code", "([1-5])..")\n)'
    )
    return RecordingRule(c.VLLM_HTTP_REQUESTS_COUNTER, first_of([vllm, sglang_http]))


def slo_counter_group(
    name: str,
    interval: str,
    histograms: Mapping[str, Sequence[str]],
    availability: bool,
    namespace: str | None = None,
) -> RuleGroup | None:
    """The counters the SLOs count: ``histograms`` maps a histogram kind to the `le` patterns
    (`le_regex`) its SLOs use; with ``availability``, finished requests by reason and HTTP 5xx
    responses; with ``namespace``, that namespace's only. None when there is nothing to count."""
    scope = "" if namespace is None else f'{c.NAMESPACE}="{escape_label_value(namespace)}"'
    rules: list[RecordingRule] = []
    for kind, patterns in histograms.items():
        rules += _histogram_rules(kind, patterns, scope)
    if availability:
        rules += [_finished(scope), _http_5xx(scope)]
    return RuleGroup(name, tuple(rules), interval) if rules else None
