"""The cost recording alert: the cost rules' recording has a gap, or one of their groups stopped.

The weekly report prices what the cost rules recorded; an hour Prometheus was down, or a group's
missed evaluations, are GPU-hours the report cannot show (it says so: docs/cost.md, "When
Prometheus was down"). Every cost group records a heartbeat whose value is its interval in
seconds (inferwatch.slo.cost.rules), so the alert needs no configured interval: the sum of the
last hour's heartbeats is the part of the hour the group recorded. Hold duration:
`thresholds.cost_recording_gap_for`; runbook prose: alerts/templates/InferwatchCostRecordingGap.md.j2.
"""

from __future__ import annotations

from inferwatch.alerts.definition import ALERT_GROUP_PREFIX, AlertDefinition, AlertGroup, held, hold
from inferwatch.config.durations import duration_seconds
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import cost as c

_HOUR_S = int(duration_seconds(c.GAP_WINDOW))


def _reason(expr: str, reason: str) -> str:
    body = "\n".join(f"  {line}" for line in expr.splitlines())
    return f'label_replace(\n{body},\n  "{c.GAP_REASON_LABEL}", "{reason}", "", ""\n)'


def recording_gap_expr() -> str:
    """Per cost group (label `rule_group`): a gap in the last hour, or no evaluation for `STOPPED_AFTER`;
    the value is the seconds the group recorded of the last hour.

    ``gap``: the group recorded less of the last hour than its whole evaluations make (the hour's
    heartbeats, each its interval in seconds, add up to less than the largest multiple of the
    interval in an hour), while it had already run before that hour (within `GAP_MEMORY`), so a
    fresh install is quiet. ``stopped``: the group ran within `GAP_MEMORY` but has recorded nothing
    for `STOPPED_AFTER`, longer than any allowed interval (a group removed on purpose is forgotten
    after `GAP_MEMORY`).
    """
    beat, win = c.RECORDING_HEARTBEAT, c.GAP_WINDOW
    gap = (
        f"sum_over_time({beat}[{win}])\n"
        f"  < {_HOUR_S} - {_HOUR_S} % max_over_time({beat}[{win}])\n"
        f"and\n"
        f"last_over_time({beat}[{c.GAP_MEMORY}] offset {win})"
    )
    # Its value is what the group recorded of the last hour too (0 s once the hour holds nothing).
    stopped = (
        f"(\n  sum_over_time({beat}[{win}])\n  or\n  last_over_time({beat}[{c.GAP_MEMORY}]) * 0\n)\n"
        f"unless\nlast_over_time({beat}[{c.STOPPED_AFTER}])"
    )
    return f"{_reason(gap, c.GAP_REASON_GAP)}\nor\n{_reason(stopped, c.GAP_REASON_STOPPED)}"


def cost_alerts(t: Thresholds) -> list[AlertDefinition]:
    """InferwatchCostRecordingGap, held for the configured `cost_recording_gap_for`."""
    for_ = t.cost_recording_gap_for
    return [
        AlertDefinition(
            name=c.ALERT_RECORDING_GAP,
            severity="ticket",
            expr=recording_gap_expr(),
            for_=hold(for_),
            summary="Cost rule group {{ $labels.rule_group }}: its recording has a gap or stopped",
            description="The cost rule group {{ $labels.rule_group }} recorded {{ $value | humanizeDuration }} "
            f"of the last {c.GAP_WINDOW} ({{{{ $labels.reason }}}}: {c.GAP_REASON_GAP}: Prometheus was down or "
            f"restarted, or evaluations were missed; {c.GAP_REASON_STOPPED}: nothing for {c.STOPPED_AFTER}). "
            "The GPU time of a gap is not in the weekly cost report, which counts only the time recorded and "
            "names the hours resting on a gap.",
            threshold=f"a cost rule group recorded less than the whole last {c.GAP_WINDOW} after running before "
            f"it, or nothing for {c.STOPPED_AFTER} after running within the last {c.GAP_MEMORY}"
            + (f"; held{held(for_)}" if held(for_) else ""),
        )
    ]


GROUP = AlertGroup(f"{ALERT_GROUP_PREFIX}-cost", cost_alerts)
