"""Checkpoints of the pods' counters: the events of every window longer than 5 minutes, across any gap.

vLLM's counters keep counting while Prometheus is down; what a window must not lose is what
they counted. Per SLO, two groups record and sum it:

* the checkpoint group (every `CHECKPOINT_INTERVAL`, 5 minutes) records each pod's good and total
  counter (`counter_rules`, from the normalized counters of `slo_counter_group`, recorded every
  minute): the fine checkpoints, one per run, and a pod's last value for `_END_MEMORY` after its
  counters are gone (where the run before ran: `_until_gone`). From them it records the coarse
  checkpoints (`checkpoint_rules`): the fine one of the run before (`COARSE_LAG`) where it is the
  hour's, or where it is an event — a pod's first two values, its last, the values on either side
  of a reset (`coarse_checkpoint_expr`).
  Checkpoints are per pod, so a reset stays visible to increase(); and every checkpoint is a value
  the counter really had, so increase() over them counts every event between any two of them — a
  Prometheus outage or a missed evaluation only moves the next checkpoint, and the counter's jump
  across the gap is counted. It also records a heartbeat at every run: the SLO's recording ran.
* the long-window group (every `LONG_WINDOWS_INTERVAL`) sums increase() over the coarse
  checkpoints per SLO group for every window of a day and more, and the share of each window
  the heartbeats cover (`long_window_rules`).

The SLO's main group reads the fine checkpoints for windows under a day and the long-window
sums for the others (inferwatch.slo.rules). What runs 5 minutes apart can miss is a pod's events
before its first checkpoint and, at a container restart, those between its last checkpoint and
the reset: docs/slo.md, "Windows that survive a Prometheus outage", gives the bounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from inferwatch.alerts.normalize import slo_counter_group
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.promql import by, escape_regex_value, le_regex, selector
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.slo.model import SLO, AvailabilitySLI, LatencySLI
from inferwatch.slo.windows import (
    CHECKPOINT_INTERVAL,
    COUNTER_INTERVAL,
    LONG_WINDOWS_INTERVAL,
    coverage_windows,
    format_duration,
    is_coarse,
    recorded_windows,
)

HTTP_5XX = "5xx"
# How long after a pod's counters are gone its last value is still recorded (twice Prometheus's
# lookback, so a series that ends without a staleness marker, as a backfilled one, is caught too).
_END_MEMORY = "10m"
# The coarse checkpoints are taken from the fine ones of the run before: each holds the counter's
# value this long before its own timestamp.
COARSE_LAG = CHECKPOINT_INTERVAL
# A range holding one run's sample of a series the checkpoint group records (half its interval:
# runs are that far apart, so no other falls inside, with either end open or closed).
_WITHIN_RUN = f"{int(CHECKPOINT_INTERVAL.total_seconds() // 2)}s"


def pod_labels(slo: SLO) -> tuple[str, ...]:
    """Labels of an SLO's per-pod counters and checkpoints: namespace, pod and the SLO's group labels."""
    return tuple(dict.fromkeys((norm.NAMESPACE, *slo.group_by, norm.POD)))


def _sum(labels: Sequence[str], expr: str) -> str:
    return f"sum {by(labels)} ({expr})"


def counts_http(slo: SLO) -> bool:
    """Whether the SLO's bad events include HTTP 5xx (their series carry no model_name to match on)."""
    return (
        isinstance(slo.sli, AvailabilitySLI)
        and slo.sli.count_http_5xx
        and norm.MODEL not in slo.group_by
        and norm.MODEL not in dict(slo.matchers)
    )


def counter_queries(slo: SLO, owner: str | None = None, last: str | None = None) -> tuple[str, str]:
    """The PromQL of the SLO's good and total counters per pod (labels `pod_labels`), from normalized counters.

    Good always comes with total (0 where a pod has no good event yet), so the two are a pair.
    ``owner``: the SLO whose rule file records the normalized counters read (`counter_group`);
    None reads those recorded without one (`inferwatch build`'s file). ``last``: a range; each
    normalized counter's last value within it instead of its current one.
    """
    matchers, labels = {**dict(slo.matchers), c.SLO_LABEL: owner or ""}, pod_labels(slo)

    def read(name: str, *more: dict[str, str]) -> str:
        sel = selector(name, matchers, *more)
        return _sum(labels, f"last_over_time({sel}[{last}])" if last else sel)

    if isinstance(slo.sli, LatencySLI):
        count = read(norm.counter_series(slo.sli.kind, "count"))
        bucket = read(norm.counter_series(slo.sli.kind, "bucket"), {norm.LE: le_regex(slo.sli.threshold)})
        return bucket, count
    sli: AvailabilitySLI = slo.sli
    finished = read(norm.VLLM_REQUESTS_FINISHED_COUNTER)
    errors = read(
        norm.VLLM_REQUESTS_FINISHED_COUNTER,
        {norm.FINISHED_REASON: "|".join(escape_regex_value(r) for r in sli.error_reasons)},
    )
    total = finished
    if counts_http(slo):
        http = read(norm.VLLM_HTTP_REQUESTS_COUNTER, {norm.STATUS: HTTP_5XX})
        total = f"({finished} + {http})\nor\n{finished}\nor\n{http}"
    good = f"({finished} - {errors})\nor\n{finished}\nor\n(\n{total}\n) * 0"
    return good, total


def _run_sample(sel: str, ago: timedelta = timedelta()) -> str:
    """The sample of ``sel`` (a series the checkpoint group records) of the run ``ago`` before this one."""
    back = f" offset {format_duration(ago)}" if ago else ""
    return f"last_over_time({sel}[{_WITHIN_RUN}]{back})"


def _on_pods(slo: SLO) -> str:
    return f"on ({', '.join(pod_labels(slo))})"


def _ran_before(slo: SLO) -> str:
    """The checkpoint group's heartbeat of the run before, where that run happened (`checkpoint_rules`)."""
    return _run_sample(selector(c.RECORDING_HEARTBEAT, {c.SLO_LABEL: slo.name}), CHECKPOINT_INTERVAL)


def _until_gone(now: str, last: str, slo: SLO) -> str:
    """A pod's counter while it is there, and its last value for `_END_MEMORY` after it is gone.

    The last value only where the run before happened: a counter missing then may be missing
    because Prometheus was down and the normalized-counter group has not run since it restarted,
    and its last value, read before the stop, would stand for the counter at this run and leave
    out every event of the stop until the next one. A pod that ends while Prometheus runs is still
    recorded at every run for `_END_MEMORY`.
    """
    gone = f"(\n{last}\n  )\n  unless {_on_pods(slo)}\n  (\n{now}\n  )"
    return f"(\n{now}\n)\nor\n(\n  (\n  {gone}\n  )\n  and on ()\n  {_ran_before(slo)}\n)"


def counter_rules(slo: SLO, owner: str | None = None) -> tuple[RecordingRule, RecordingRule]:
    """The fine checkpoints: each pod's good and total counter of ``slo`` at every run of the checkpoint
    group, and its last value for `_END_MEMORY` after it is gone (``owner``: as for `counter_queries`)."""
    good, total = counter_queries(slo, owner)
    good_last, total_last = counter_queries(slo, owner, last=_END_MEMORY)
    label = {c.SLO_LABEL: slo.name}
    return (
        RecordingRule(c.GOOD_CHECKPOINT_FINE, _until_gone(good, good_last, slo), label),
        RecordingRule(c.TOTAL_CHECKPOINT_FINE, _until_gone(total, total_last, slo), label),
    )


def hour_slot(phase_minutes: int = 0, ago: timedelta = timedelta()) -> str:
    """A condition true at one checkpoint-group run an hour: the one within `CHECKPOINT_INTERVAL` from the
    hour's minute ``phase_minutes`` (with ``ago``: the run that long after it, whose rules look back at it).

    Whatever minute Prometheus starts the group's runs on (it spreads groups over their interval),
    exactly one of them falls in that stretch.
    """
    minutes = int(CHECKPOINT_INTERVAL.total_seconds() // 60)
    if minutes <= 0 or 60 % minutes:
        raise ValueError(f"the checkpoint interval must divide an hour, not {CHECKPOINT_INTERVAL}")
    shift = int(ago.total_seconds())
    clock = f"minute(vector(time() - {shift}))" if shift else "minute(vector(time()))"
    return f"({clock} + {60 - phase_minutes % 60}) % 60 < {minutes}"


def coarse_checkpoint_expr(fine: str, slo: SLO, phase_minutes: int = 0) -> str:
    """The coarse checkpoints of one per-pod counter from its fine checkpoints (``fine``): the fine one of
    the run before, where it is the hour's (the run within 5 minutes of the hour's minute
    ``phase_minutes``) or an event.

    A fine checkpoint is plain (not copied off the hour) where the runs before and after it both
    hold one, the one before no higher and the one after no lower, and the run before that holds
    one too. Otherwise it is an event: a pod's first value or the first after a gap (none before),
    and the one after it (none two runs before: so a new pod or SLO has a figure over the long
    windows within two runs, not at the next hour); the value after a reset (a higher one before);
    the value before a reset (a lower one after); a pod's last value, or the last before a gap
    (none after). So the coarse series holds every event of the fine one — a true subsequence of the
    counter that misses no reset, start or end the fine one shows — with an hourly sample in between.

    One run later, so the run after the copied one is there to compare with; the comparisons read
    the fine checkpoints alone.
    """
    sel = selector(fine, {c.SLO_LABEL: slo.name})
    on = _on_pods(slo)
    earlier, before, then, after = (_run_sample(sel, n * COARSE_LAG) for n in (3, 2, 1, 0))
    plain = f"({before} <= {then})\n    and {on}\n    ({after} >= {then})\n    and {on}\n    {earlier}"
    hour = hour_slot(phase_minutes, ago=COARSE_LAG)
    # `+ 0` drops the series name on both sides of `or`: MetricsQL's last_over_time keeps it, and
    # its `or` keeps two series whose names differ, which vmalert refuses to record as one
    return f"(\n  {then}\n  unless {on}\n  (\n    {plain}\n  )\n) + 0\nor\n(\n  {then} and on () ({hour})\n) + 0"


def checkpoint_rules(slo: SLO, coarse_phase_minutes: int = 0) -> tuple[RecordingRule, ...]:
    """Coarse checkpoints of the good and total counters, and the recording's heartbeat.

    ``coarse_phase_minutes`` is the minute of the hour of the coarse slot (0: on the hour).
    """
    label = {c.SLO_LABEL: slo.name}
    coarse = (
        (c.GOOD_CHECKPOINT_COARSE, c.GOOD_CHECKPOINT_FINE),
        (c.TOTAL_CHECKPOINT_COARSE, c.TOTAL_CHECKPOINT_FINE),
    )
    rules = [RecordingRule(rec, coarse_checkpoint_expr(src, slo, coarse_phase_minutes), label) for rec, src in coarse]
    rules.append(RecordingRule(c.RECORDING_HEARTBEAT, "vector(time())", label))
    return tuple(rules)


def increase_expr(slo: SLO, checkpoints: str, window: timedelta) -> str:
    """Events of ``slo`` within ``window`` per SLO group: increase() over each pod's checkpoints, summed."""
    sel = selector(checkpoints, {c.SLO_LABEL: slo.name})
    clause = by(slo.group_by)
    inner = f"increase({sel}[{format_duration(window)}])"
    return f"sum {clause} ({inner})" if clause else f"sum({inner})"


def _per_window(expr_of: dict[str, str]) -> str:
    return "\nor\n".join(f'label_replace({e}, "{c.WINDOW_LABEL}", "{w}", "", "")' for w, e in expr_of.items())


def window_sum_expr(slo: SLO, checkpoints: str) -> str:
    """Events over every long window of ``slo`` from the coarse ``checkpoints``, one series per ``window``."""
    coarse = [w for w in recorded_windows(slo.period) if is_coarse(w)]
    return _per_window({format_duration(w): increase_expr(slo, checkpoints, w) for w in coarse})


def coverage_expr(slo: SLO) -> str:
    """Share of each coverage window with a heartbeat, at most 1, one series per ``window``."""
    beat = selector(c.RECORDING_HEARTBEAT, {c.SLO_LABEL: slo.name})
    due = {w: int(w / CHECKPOINT_INTERVAL) for w in coverage_windows(slo.period)}
    return _per_window(
        {
            format_duration(w): f"clamp_max(count_over_time({beat}[{format_duration(w)}]) / {n}, 1)"
            for w, n in due.items()
        }
    )


def long_window_rules(slo: SLO) -> tuple[RecordingRule, ...]:
    """Good and total events over every long window, and the recording's coverage of every window."""
    label = {c.SLO_LABEL: slo.name}
    return (
        RecordingRule(c.GOOD_EVENTS_WINDOW, window_sum_expr(slo, c.GOOD_CHECKPOINT_COARSE), label),
        RecordingRule(c.TOTAL_EVENTS_WINDOW, window_sum_expr(slo, c.TOTAL_CHECKPOINT_COARSE), label),
        RecordingRule(c.RECORDING_COVERAGE, coverage_expr(slo), label),
    )


def checkpoint_group(slo: SLO, coarse_phase_minutes: int = 0, owner: str | None = None) -> RuleGroup:
    """The SLO's checkpoint group: the fine checkpoints (read from ``owner``'s normalized counters, see
    `counter_queries`), then the coarse ones and the heartbeat, in that order."""
    return RuleGroup(
        f"inferwatch-slo-{slo.name}{c.CHECKPOINT_GROUP_SUFFIX}",
        (*counter_rules(slo, owner), *checkpoint_rules(slo, coarse_phase_minutes)),
        interval=format_duration(CHECKPOINT_INTERVAL),
    )


def long_window_group(slo: SLO) -> RuleGroup:
    """The SLO's long-window group: window sums from the coarse checkpoints, and coverage."""
    return RuleGroup(
        f"inferwatch-slo-{slo.name}{c.LONG_GROUP_SUFFIX}",
        long_window_rules(slo),
        interval=format_duration(LONG_WINDOWS_INTERVAL),
    )


def counter_group(slos: Sequence[SLO], owner: str | None = None) -> RuleGroup | None:
    """The normalized counters every SLO's checkpoints read (one group for all SLOs), or None without SLOs.

    When every SLO counts one namespace (an InferenceSLO's rule object), the group reads that
    namespace's counters only: a team's rules record nothing of another namespace. With ``owner``
    (an InferenceSLO's name: its rule object holds its own copy of this group) every series carries
    it as `slo`, so two InferenceSLOs of one namespace record two sets of series, each once, instead
    of the same series twice from two rule groups; their checkpoint groups read their own.
    """
    histograms: dict[str, list[str]] = {}
    for slo in slos:
        if isinstance(slo.sli, LatencySLI):
            histograms.setdefault(slo.sli.kind, []).append(le_regex(slo.sli.threshold))
    availability = any(isinstance(slo.sli, AvailabilitySLI) for slo in slos)
    namespaces = {dict(slo.matchers).get(norm.NAMESPACE) for slo in slos}
    namespace = namespaces.pop() if len(namespaces) == 1 else None
    group = slo_counter_group(c.COUNTER_GROUP, format_duration(COUNTER_INTERVAL), histograms, availability, namespace)
    if group is None or owner is None:
        return group
    owned = tuple(
        dataclasses.replace(r, labels={**r.labels, c.SLO_LABEL: owner}) if isinstance(r, RecordingRule) else r
        for r in group.rules
    )
    return dataclasses.replace(group, rules=owned)
