"""Checkpoints of the pods' counters: the events of every window longer than 5 minutes, across any gap.

vLLM's counters keep counting while Prometheus is down; what a window must not lose is what
they counted. Per SLO, two groups record and sum it:

* the checkpoint group (every `CHECKPOINT_INTERVAL`) records each pod's good and total counter
  (`counter_rules`, from the normalized counters of `slo_counter_group`), and from them two
  checkpoint series per pod (`checkpoint_rules`): a sample every `FINE_STEP` and every
  `COARSE_STEP`, plus one wherever a pod's counter starts (its first value), ends (its last) or
  resets (the value before the reset, then the one after). The fine series finds those events
  in the counter's history (`checkpoint_expr`); the coarse one copies them from the fine series
  an evaluation later (`coarse_checkpoint_expr`), which costs 5 selectors instead of 10.
  Checkpoints are per pod, so a reset stays visible to increase(); and every checkpoint is a
  value the counter really had, so increase() over them counts every event between any two of
  them — a Prometheus outage or a missed evaluation only moves the next checkpoint, and the
  counter's jump across the gap is counted. It also records a heartbeat at every fine
  checkpoint: the SLO's recording ran.
* the long-window group (every `LONG_WINDOWS_INTERVAL`) sums increase() over the coarse
  checkpoints per SLO group for every window of a day and more, and the share of each window
  the heartbeats cover (`long_window_rules`).

The SLO's main group reads the fine checkpoints for windows under a day and the long-window
sums for the others (inferwatch.slo.rules). docs/slo.md, "Windows that survive a Prometheus
outage", gives the bounds.
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
    COARSE_STEP,
    FINE_STEP,
    LONG_WINDOWS_INTERVAL,
    coverage_windows,
    format_duration,
    is_coarse,
    recorded_windows,
)

HTTP_5XX = "5xx"
# Prometheus's lookback: an instant selector's latest sample within it counts as current.
_LOOKBACK = "5m"
# The span over which a counter must have been recorded at every evaluation not to count as
# fresh (a new pod or the first minutes after a gap), and the evaluations that makes.
_FRESH = timedelta(minutes=5)
_FRESH_EVALUATIONS = int(_FRESH / CHECKPOINT_INTERVAL)
# How long after a pod's counter is gone its last value is still recorded (twice the lookback,
# so a series that ends without a staleness marker, as a backfilled one, is caught too).
_END_MEMORY = "10m"
# The coarse checkpoints are taken from the fine ones of the evaluation before: each holds the
# counter's value this long before its own timestamp.
COARSE_LAG = CHECKPOINT_INTERVAL
# A range holding one evaluation's sample of a series the checkpoint group records (half its
# interval: evaluations are that far apart, so no other falls inside, with either end open or closed).
_WITHIN_EVALUATION = f"{int(CHECKPOINT_INTERVAL.total_seconds() // 2)}s"


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


def counter_queries(slo: SLO, owner: str | None = None) -> tuple[str, str]:
    """The PromQL of the SLO's good and total counters per pod (labels `pod_labels`), from normalized counters.

    Good always comes with total (0 where a pod has no good event yet), so the two are a pair.
    ``owner``: the SLO whose rule file records the normalized counters read (`counter_group`);
    None reads those recorded without one (`inferwatch build`'s file).
    """
    matchers, labels = {**dict(slo.matchers), c.SLO_LABEL: owner or ""}, pod_labels(slo)
    if isinstance(slo.sli, LatencySLI):
        count = selector(norm.counter_series(slo.sli.kind, "count"), matchers)
        bucket = selector(norm.counter_series(slo.sli.kind, "bucket"), matchers, {norm.LE: le_regex(slo.sli.threshold)})
        return _sum(labels, bucket), _sum(labels, count)
    sli: AvailabilitySLI = slo.sli
    finished = _sum(labels, selector(norm.VLLM_REQUESTS_FINISHED_COUNTER, matchers))
    errors = _sum(
        labels,
        selector(
            norm.VLLM_REQUESTS_FINISHED_COUNTER,
            matchers,
            {norm.FINISHED_REASON: "|".join(escape_regex_value(r) for r in sli.error_reasons)},
        ),
    )
    total = finished
    if counts_http(slo):
        http = _sum(labels, selector(norm.VLLM_HTTP_REQUESTS_COUNTER, {**matchers, norm.STATUS: HTTP_5XX}))
        total = f"({finished} + {http})\nor\n{finished}\nor\n{http}"
    good = f"({finished} - {errors})\nor\n{finished}\nor\n(\n{total}\n) * 0"
    return good, total


def counter_rules(slo: SLO, owner: str | None = None) -> tuple[RecordingRule, RecordingRule]:
    """Each pod's good and total counter of ``slo``, every checkpoint-group evaluation (``owner``: as
    for `counter_queries`)."""
    good, total = counter_queries(slo, owner)
    label = {c.SLO_LABEL: slo.name}
    return RecordingRule(c.GOOD_EVENTS_COUNTER, good, label), RecordingRule(c.TOTAL_EVENTS_COUNTER, total, label)


def slot(step: timedelta, phase_minutes: int = 0, ago: timedelta = timedelta()) -> str:
    """A condition true at one checkpoint-group evaluation per ``step`` (a whole number of minutes
    dividing an hour): the one whose minute of the hour is ``phase_minutes`` modulo the step (with
    ``ago``: the evaluation that long after it, whose rules look back at it)."""
    minutes = int(step.total_seconds() // 60)
    if minutes <= 0 or 60 % minutes:
        raise ValueError(f"a checkpoint step must divide an hour, not {step}")
    shift = int(ago.total_seconds())
    clock = f"minute(vector(time() - {shift}))" if shift else "minute(vector(time()))"
    if minutes == 60:
        return f"{clock} == {phase_minutes % 60}"
    return f"{clock} % {minutes} == {phase_minutes % minutes}"


def checkpoint_expr(counter: str, slo: SLO, step: timedelta, phase_minutes: int = 0) -> str:
    """Checkpoints of one per-pod counter: every ``step``, and wherever the counter starts, ends or resets.

    The branches, first match wins (each yields a value the counter really had, so any set of
    them is a true subsequence of the counter and increase() over it misses nothing between two):

    1. a reset since the last evaluation: the value before it;
    2. a reset one evaluation ago: the value after it (so the reset shows even if the counter
       has grown past its old value by the next checkpoint);
    3. a counter recorded at fewer than 5 of the last 5 minutes' evaluations (a new pod, or the
       minutes after a gap — Prometheus restarted, the group missed evaluations): its value now,
       at each evaluation until the counter is whole again, so the first value after the gap (or a
       new pod's first value) is a checkpoint within a minute, and those after it as soon as the
       counters are scraped again;
    4. the step's slot: the counter now;
    5. a counter gone (its pod ended): its last value.
    """
    k = selector(counter, {c.SLO_LABEL: slo.name})
    on = f"on ({', '.join(pod_labels(slo))})"
    e1 = format_duration(CHECKPOINT_INTERVAL)
    e2 = format_duration(2 * CHECKPOINT_INTERVAL)
    branches = (
        f"last_over_time({k}[{_LOOKBACK}] offset {e1}) > {k}",
        f"last_over_time({k}[{_LOOKBACK}])\n  and {on}\n"
        f"  (last_over_time({k}[{_LOOKBACK}] offset {e2}) > {k} offset {e1})",
        f"last_over_time({k}[{e1}])\n  and {on}\n"
        f"  (count_over_time({k}[{format_duration(_FRESH)}]) < {_FRESH_EVALUATIONS})",
        f"last_over_time({k}[{_LOOKBACK}]) and on () ({slot(step, phase_minutes)})",
        f"max_over_time({k}[{_END_MEMORY}]) unless {on} {k}",
    )
    return "\nor\n".join(f"(\n  {b}\n)" for b in branches)


def coarse_checkpoint_expr(counter: str, fine: str, slo: SLO, phase_minutes: int = 0) -> str:
    """The coarse checkpoints of one per-pod counter, from its fine checkpoints (``fine``) of the
    evaluation before: every event checkpoint of the fine series, and the counter on the coarse
    slot (the hour's minute ``phase_minutes``), each one evaluation later than the fine one.

    One evaluation later, so every series read was written an evaluation ago: vmalert writes a
    rule's results by remote write, and a later rule of the same group may not see them yet.

    Every fine checkpoint off a fine slot is an event (`checkpoint_expr`'s branches 1-3 and 5) and is
    copied. On a fine slot, the fine checkpoint is left out only where it is plainly the slot's:
    where the counter is there (else it is a pod's last value, branch 5), a counter within the
    lookback before it is no higher (none: a pod's first value, or the first after a gap longer
    than the lookback, branch 3 — the first after a shorter gap needs no checkpoint, the jump
    across the gap is counted from the last one before; higher: the value before a reset, branch
    1) and no fine checkpoint was taken one evaluation before (else it is the value after a reset,
    branch 2, or a counter still fresh).

    So the coarse series holds every event checkpoint of the fine one (a true subsequence of the
    counter that misses no reset, start or end) with 5 selectors instead of `checkpoint_expr`'s 10:
    the cost of a checkpoint rule is its selectors times the pods.
    """
    k = selector(counter, {c.SLO_LABEL: slo.name})
    on = f"on ({', '.join(pod_labels(slo))})"
    e1, e2 = format_duration(COARSE_LAG), format_duration(COARSE_LAG + CHECKPOINT_INTERVAL)
    # one evaluation's fine checkpoint only (an instant selector would carry an earlier one
    # forward for the lookback): the last evaluation's, and the one before
    fine_sel = selector(fine, {c.SLO_LABEL: slo.name})
    then = f"last_over_time({fine_sel}[{_WITHIN_EVALUATION}] offset {e1})"
    before = f"last_over_time({fine_sel}[{_WITHIN_EVALUATION}] offset {e2})"
    # a counter then, and one within the lookback the evaluation before, no lower than it; compared
    # with the counter's own values, never with the fine checkpoint's copy of them (VictoriaMetrics
    # stores a value with fewer digits than a float64, so a copy may differ in its last ones)
    plain = (
        f"((last_over_time({k}[{_LOOKBACK}] offset {e2}) <= {k} offset {e1})"
        f" and on () ({slot(FINE_STEP, ago=COARSE_LAG)}))\n"
        f"  unless {on} {before}"
    )
    hour = slot(COARSE_STEP, phase_minutes, ago=COARSE_LAG)
    on_the_hour = f"last_over_time({k}[{_LOOKBACK}] offset {e1}) and on () ({hour})"
    # `+ 0` drops the series name on both sides of `or` (the fine checkpoints' and the counter's):
    # MetricsQL's `or` keeps two series whose names differ, which vmalert refuses to record as one
    return f"(\n  {then}\n  unless {on}\n  (\n  {plain}\n  )\n) + 0\nor\n(\n  {on_the_hour}\n) + 0"


def checkpoint_rules(slo: SLO, coarse_phase_minutes: int = 0) -> tuple[RecordingRule, ...]:
    """Fine and coarse checkpoints of the good and total counters, and the recording's heartbeat.

    ``coarse_phase_minutes`` is the minute of the hour of the coarse slot (0: on the hour).
    """
    label = {c.SLO_LABEL: slo.name}
    fine = (
        (c.GOOD_CHECKPOINT_FINE, c.GOOD_EVENTS_COUNTER),
        (c.TOTAL_CHECKPOINT_FINE, c.TOTAL_EVENTS_COUNTER),
    )
    coarse = (
        (c.GOOD_CHECKPOINT_COARSE, c.GOOD_EVENTS_COUNTER, c.GOOD_CHECKPOINT_FINE),
        (c.TOTAL_CHECKPOINT_COARSE, c.TOTAL_EVENTS_COUNTER, c.TOTAL_CHECKPOINT_FINE),
    )
    rules = [RecordingRule(rec, checkpoint_expr(counter, slo, FINE_STEP), label) for rec, counter in fine]
    rules += [
        RecordingRule(rec, coarse_checkpoint_expr(counter, src, slo, coarse_phase_minutes), label)
        for rec, counter, src in coarse
    ]
    rules.append(RecordingRule(c.RECORDING_HEARTBEAT, f"vector(time()) and on () ({slot(FINE_STEP)})", label))
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
    due = {w: int(w / FINE_STEP) for w in coverage_windows(slo.period)}
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
    """The SLO's checkpoint group: per-pod counters (read from ``owner``'s normalized counters, see
    `counter_queries`), then their checkpoints and the heartbeat, in that order."""
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
    group = slo_counter_group(
        c.COUNTER_GROUP, format_duration(CHECKPOINT_INTERVAL), histograms, availability, namespace
    )
    if group is None or owner is None:
        return group
    owned = tuple(
        dataclasses.replace(r, labels={**r.labels, c.SLO_LABEL: owner}) if isinstance(r, RecordingRule) else r
        for r in group.rules
    )
    return dataclasses.replace(group, rules=owned)
