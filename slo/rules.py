"""SLOs -> multiwindow, multi-burn-rate Prometheus rules (a pure function of the SLO model).

Per SLO, three groups; one more, shared, records the normalized counters they read. The SLO's
main group runs these in order at each evaluation:

* good and total events per second (5-minute rates of the normalized series), summed per SLO
  group and recorded only while there is traffic: the 5-minute window;
* the burn rate over every window, traffic-weighted as good events / total events (never an
  average of ratios, never a long scan over bucket series), in one rule whose series carry a
  ``window`` label; then the error budget left;
* page and ticket alerts, an alert per SLO series whose SLI metrics are absent, and an alert when
  the SLO's recording has a gap or one of its groups stopped.

Every window longer than 5 minutes counts the events between checkpoints of the pods' counters
(inferwatch.slo.checkpoints, the SLO's checkpoint group): windows under a day with increase()
over the 5-minute checkpoints, windows of a day and longer from the sums the long-window group
makes of the hourly checkpoints every 5 minutes (the SLO group reads only the latest of those).
A Prometheus outage or a missed evaluation loses no event the counters still hold.

Every selector reads normalized ``inferwatch:*`` series only; ``le`` is matched with
`le_regex`, so the rules work on Prometheus 2 and 3 alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from inferwatch.config.durations import duration_seconds
from inferwatch.config.model import DEFAULT_RUNBOOK_BASE_URL
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.promql import by, escape_regex_value, format_number, le_regex, selector
from inferwatch.rules import AlertingRule, RecordingRule, RuleFile, RuleGroup
from inferwatch.slo.checkpoints import HTTP_5XX, checkpoint_group, counter_group, increase_expr, long_window_group
from inferwatch.slo.model import SLO, AvailabilitySLI, LatencySLI
from inferwatch.slo.windows import MIN_WINDOW, BurnRateWindow, format_duration, is_coarse, recorded_windows, windows_for


@dataclass(frozen=True)
class SLIQueries:
    """The PromQL of one SLO's events, summed per SLO group, before any gating."""

    good: str
    total: str
    absent: str


def _sum(slo: SLO, expr: str) -> str:
    clause = by(slo.group_by)
    return f"sum {clause} ({expr})" if clause else f"sum({expr})"


def sli_queries(slo: SLO) -> SLIQueries:
    """Good-event, total-event and absence queries of ``slo``'s SLI over normalized series."""
    matchers = dict(slo.matchers)
    if isinstance(slo.sli, LatencySLI):
        bucket = selector(
            norm.histogram_series(slo.sli.kind, "bucket"), matchers, {norm.LE: le_regex(slo.sli.threshold)}
        )
        count = selector(norm.histogram_series(slo.sli.kind, "count"), matchers)
        return SLIQueries(good=_sum(slo, bucket), total=_sum(slo, count), absent=f"absent({count})")
    sli: AvailabilitySLI = slo.sli
    finished = selector(norm.VLLM_REQUESTS_FINISHED_RATE, matchers)
    errors = selector(
        norm.VLLM_REQUESTS_FINISHED_RATE,
        matchers,
        {norm.FINISHED_REASON: "|".join(escape_regex_value(r) for r in sli.error_reasons)},
    )
    all_finished = _sum(slo, finished)
    good = f"({all_finished} - {_sum(slo, errors)})\nor\n{all_finished}"
    total = all_finished
    # HTTP responses carry no model_name: they can be counted only when no SLO label needs it.
    if sli.count_http_5xx and norm.MODEL not in slo.group_by and norm.MODEL not in matchers:
        http_sel = selector(norm.VLLM_HTTP_REQUESTS_RATE, {**matchers, norm.STATUS: HTTP_5XX})
        http = _sum(slo, http_sel)
        total = f"({all_finished} + {http})\nor\n{all_finished}\nor\n{http}"
    return SLIQueries(good=good, total=total, absent=f"absent({finished})")


def _indent(expr: str, n: int = 2) -> str:
    return "\n".join(" " * n + line for line in expr.split("\n"))


def sli_rules(slo: SLO) -> tuple[RecordingRule, ...]:
    """Good and total events per second for ``slo``, present only while there is traffic.

    Good falls back to 0 where no good events are seen (every request failed), so good and
    total always come as a pair and long windows never divide a missing numerator.
    """
    q = sli_queries(slo)
    label = {c.SLO_LABEL: slo.name}
    total = f"(\n{_indent(q.total)}\n) > 0"
    good = f"(\n{_indent(q.good)}\n  or\n  (\n{_indent(q.total, 4)}\n  ) * 0\n)\nand\n(\n{_indent(q.total)}\n) > 0"
    return (
        RecordingRule(c.GOOD_EVENTS, good, label),
        RecordingRule(c.TOTAL_EVENTS, total, label),
    )


def _ratio(slo: SLO, window: timedelta) -> str:
    """Good over total events within ``window`` (under a day), traffic-weighted, from the series that
    suits its length.

    No traffic in the window is no data (the division by a total of 0 is filtered out).
    """
    sel = {c.SLO_LABEL: slo.name}
    if window <= MIN_WINDOW:
        return f"{selector(c.GOOD_EVENTS, sel)} / {selector(c.TOTAL_EVENTS, sel)}"
    good = increase_expr(slo, c.GOOD_CHECKPOINT_FINE, window)
    total = increase_expr(slo, c.TOTAL_CHECKPOINT_FINE, window)
    return f"{good}\n  /\n({total} > 0)"


def _long_ratio(slo: SLO) -> str:
    """Good over total events of every window of a day and more, from the latest long-window sums:
    one series per ``window``, which the sums carry."""
    windows = "|".join(format_duration(w) for w in recorded_windows(slo.period) if is_coarse(w))
    at = {c.SLO_LABEL: slo.name}
    good = selector(c.GOOD_EVENTS_WINDOW, at, {c.WINDOW_LABEL: windows})
    total = selector(c.TOTAL_EVENTS_WINDOW, at, {c.WINDOW_LABEL: windows})
    back = c.WINDOW_SUM_LOOKBACK
    return f"last_over_time({good}[{back}])\n  /\n(last_over_time({total}[{back}]) > 0)"


def _burn_of(ratio: str, slo: SLO) -> str:
    return f"(\n  1 - (\n{_indent(ratio, 4)}\n  )\n) / {format_number(slo.error_budget)}"


def burn_rate_expr(slo: SLO, window: timedelta) -> str:
    """Burn rate of ``slo`` over ``window`` (error ratio / error budget): over every window of a day and
    more at once (their series carry ``window``) when ``window`` is one of them; otherwise over
    ``window`` alone, which its rule puts in the ``window`` label."""
    return _burn_of(_long_ratio(slo) if is_coarse(window) else _ratio(slo, window), slo)


def window_rules(slo: SLO) -> tuple[RecordingRule, ...]:
    """Burn rates over every alert window and the SLO window: a rule per window under a day, labelled
    with its window, and one rule for the windows of a day and more, whose sums carry their window
    (rules recording the same series name; cheaper to evaluate than one rule joining every window).

    The 5-minute window reads the 5-minute rates, windows under a day the fine checkpoints, longer
    ones the long-window sums.
    """
    label = {c.SLO_LABEL: slo.name}
    windows = recorded_windows(slo.period)
    short = tuple(
        RecordingRule(c.BURN_RATE, burn_rate_expr(slo, w), {**label, c.WINDOW_LABEL: format_duration(w)})
        for w in windows
        if not is_coarse(w)
    )
    long = tuple(RecordingRule(c.BURN_RATE, burn_rate_expr(slo, w), label) for w in windows[-1:] if is_coarse(w))
    return short + long


def _burn(slo: SLO, window: str) -> str:
    return selector(c.BURN_RATE, {c.SLO_LABEL: slo.name, c.WINDOW_LABEL: window})


def _condition(slo: SLO, w: BurnRateWindow) -> str:
    f = format_number(w.factor)
    long, short = format_duration(w.long), format_duration(w.short)
    return f"({_burn(slo, long)} > {f}\n  and ignoring ({c.WINDOW_LABEL})\n  {_burn(slo, short)} > {f})"


def _where(slo: SLO) -> str:
    return "".join(f" {lbl}={{{{ $labels.{lbl} }}}}" for lbl in slo.group_by)


def _describe_sli(slo: SLO) -> str:
    if isinstance(slo.sli, LatencySLI):
        return f"{slo.sli.kind} <= {format_number(slo.sli.threshold)}s"
    return "availability"


def budget_rule(slo: SLO) -> RecordingRule:
    """The share of the error budget left over the SLO window (1 - burn rate over the window)."""
    return RecordingRule(
        c.ERROR_BUDGET_REMAINING,
        f"1 - max without ({c.WINDOW_LABEL}) ({_burn(slo, slo.window)})",
        {c.SLO_LABEL: slo.name},
    )


# Each SLO alert's `for:` unless the configuration says otherwise (thresholds.slo_*_for).
DEFAULT_HOLDS: Mapping[str, str] = {
    c.ALERT_PAGE: "2m",
    c.ALERT_TICKET: "15m",
    c.ALERT_ABSENT: "15m",
    c.ALERT_RECORDING_GAP: "15m",
}


def _hold(duration: str) -> str | None:
    return None if duration_seconds(duration) == 0 else duration


def alert_rules(
    slo: SLO, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL, holds: Mapping[str, str] = DEFAULT_HOLDS
) -> tuple[AlertingRule, ...]:
    """The page and ticket alerts, the absent-metrics alert and the recording-gap alert (runbooks:
    <runbook_base_url>/<alert>.md, `for:` from ``holds`` by alert name; "0s" means none)."""
    label = {c.SLO_LABEL: slo.name}
    rules: list[AlertingRule] = []
    what = f"SLO {slo.name} ({_describe_sli(slo)}, {format_number(slo.objective_percent)}% over {slo.window})"
    for severity, alert in (("page", c.ALERT_PAGE), ("ticket", c.ALERT_TICKET)):
        for_ = _hold(holds[alert])
        conds = [_condition(slo, w) for w in windows_for(slo.period) if w.severity == severity]
        body = f"\nor ignoring ({c.WINDOW_LABEL})\n".join(conds)
        spent = ", ".join(
            f"{format_number(w.factor)}x over {format_duration(w.long)} and {format_duration(w.short)}"
            for w in windows_for(slo.period)
            if w.severity == severity
        )
        rules.append(
            AlertingRule(
                alert=alert,
                expr=f"max without ({c.WINDOW_LABEL}) (\n{_indent(body)}\n)",
                for_=for_,
                labels={**label, "severity": severity},
                annotations={
                    "summary": f"{what} is burning its error budget too fast",
                    "description": f"{what}{_where(slo)} burns its error budget at {{{{ $value | humanize }}}}x "
                    f"(threshold: {spent}).",
                    "runbook_url": f"{runbook_base_url}/{alert}.md",
                },
            )
        )
    rules.append(
        AlertingRule(
            alert=c.ALERT_ABSENT,
            expr=absent_expr(slo),
            for_=_hold(holds[c.ALERT_ABSENT]),
            labels={**label, "severity": "ticket"},
            annotations={
                "summary": f"{what}: the SLI's metrics are absent",
                "description": f"No normalized series for {what}{_where(slo)} exist: its burn rates read no data. "
                "Check that vLLM is scraped and the inferwatch normalization rules are loaded.",
                "runbook_url": f"{runbook_base_url}/{c.ALERT_ABSENT}.md",
            },
        )
    )
    rules.append(
        AlertingRule(
            alert=c.ALERT_RECORDING_GAP,
            expr=recording_gap_expr(slo),
            for_=_hold(holds.get(c.ALERT_RECORDING_GAP, DEFAULT_HOLDS[c.ALERT_RECORDING_GAP])),
            labels={**label, "severity": "ticket"},
            annotations={
                "summary": f"{what}: its recording has a gap or stopped",
                "description": f"The recording of {what} ({{{{ $labels.{c.GAP_REASON_LABEL} }}}}): "
                f"{c.GAP_REASON_GAP}: it ran for less than the whole last {c.GAP_WINDOW} (coverage "
                f"{{{{ $value | humanizePercentage }}}}), so its figures rest on a gap; "
                f"{c.GAP_REASON_CHECKPOINTS}: its checkpoint group records nothing; "
                f"{c.GAP_REASON_LONG_WINDOWS}: its long windows are no longer summed. "
                "Events within a gap are counted from the counters; a pod restarted inside it lost "
                "its events before the restart.",
                "runbook_url": f"{runbook_base_url}/{c.ALERT_RECORDING_GAP}.md",
            },
        )
    )
    return tuple(rules)


def recording_gap_expr(slo: SLO) -> str:
    """Fires while the SLO's recording ran for less than the whole gap window (once it has run longer
    than that), or while its checkpoint group or its long-window group records nothing.

    Each cause carries its own `reason` label; a fresh install, whose groups start within minutes,
    stays quiet under the alert's `for:`.
    """
    sel = {c.SLO_LABEL: slo.name}
    coverage = selector(c.RECORDING_COVERAGE, {**sel, c.WINDOW_LABEL: c.GAP_WINDOW})
    whole = selector(c.RECORDING_COVERAGE, {**sel, c.WINDOW_LABEL: slo.window})
    gap_share = format_number(duration_seconds(c.GAP_WINDOW) / slo.period.total_seconds())
    back = c.STOPPED_AFTER
    causes = (
        (
            c.GAP_REASON_GAP,
            f"max without ({c.WINDOW_LABEL}) (\n  {coverage} < 1\n  and on ({c.SLO_LABEL})\n  {whole} > {gap_share}\n)",
        ),
        (c.GAP_REASON_CHECKPOINTS, f"absent_over_time({selector(c.RECORDING_HEARTBEAT, sel)}[{back}])"),
        (c.GAP_REASON_LONG_WINDOWS, f"absent_over_time({selector(c.RECORDING_COVERAGE, sel)}[{back}])"),
    )
    return "\nor\n".join(
        f'label_replace(\n{_indent(expr)},\n  "{c.GAP_REASON_LABEL}", "{reason}", "", ""\n)' for reason, expr in causes
    )


def absent_expr(slo: SLO) -> str:
    """Fires per SLO series: a group that had traffic within `ABSENT_MEMORY` and whose SLI series are gone,
    or, when nothing at all is there, the whole SLO.

    A group whose series are present but idle is quiet (no traffic is not absence); a group gone
    for longer than the memory is taken as retired and resolves.
    """
    source = sli_queries(slo).absent.removeprefix("absent(").removesuffix(")")
    whole = f"absent({source})"
    if not slo.group_by:
        return whole
    clause = by(slo.group_by)
    seen = f"last_over_time({selector(c.TOTAL_CHECKPOINT_COARSE, {c.SLO_LABEL: slo.name})}[{c.ABSENT_MEMORY}])"
    on = f"on ({', '.join(slo.group_by)})"
    return f"(\n  group {clause} ({seen})\n  unless {on}\n  group {clause} ({source})\n)\nor\n{whole}"


def slo_groups(
    slo: SLO,
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
    holds: Mapping[str, str] = DEFAULT_HOLDS,
    coarse_phase_minutes: int = 0,
    counters_owner: str | None = None,
) -> tuple[RuleGroup, RuleGroup, RuleGroup]:
    """One SLO's rules as three groups, each after those it reads: the checkpoint group, the
    long-window group, and the main group, in dependency order.

    The checkpoint group (every 5 minutes) records the pods' counters and their checkpoints; the
    long-window group (every 5 minutes) sums the hourly checkpoints over the long windows.
    Prometheus evaluates a group's rules in order at the same instant, so in the main group every
    burn rate reads the SLI events recorded a moment before, and alerts read the burn rates of the
    same evaluation: no rule lags another by an evaluation interval.
    """
    main = RuleGroup(
        f"inferwatch-slo-{slo.name}",
        (*sli_rules(slo), *window_rules(slo), budget_rule(slo), *alert_rules(slo, runbook_base_url, holds)),
    )
    return checkpoint_group(slo, coarse_phase_minutes, counters_owner), long_window_group(slo), main


def slo_rule_file(
    slos: Sequence[SLO],
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL,
    holds: Mapping[str, str] = DEFAULT_HOLDS,
    coarse_phase_minutes: int = 0,
    counters_owner: str | None = None,
) -> RuleFile:
    """The normalized counters the SLOs count, then every SLO's groups, in the order the SLOs are defined.

    ``counters_owner`` labels the normalized counters this file records with that name (an
    InferenceSLO's rule object: see `counter_group`), and the SLOs' checkpoints read those.
    """
    counters = counter_group(slos, counters_owner)
    groups = tuple(
        g for slo in slos for g in slo_groups(slo, runbook_base_url, holds, coarse_phase_minutes, counters_owner)
    )
    return RuleFile(((counters,) if counters else ()) + groups)


def rule_counts(slos: Sequence[SLO]) -> dict[str, int]:
    """Number of rules (recording + alerting) each SLO compiles to (the shared counter group aside)."""
    return {slo.name: sum(len(g.rules) for g in slo_groups(slo)) for slo in slos}
