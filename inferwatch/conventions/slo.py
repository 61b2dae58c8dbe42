"""Names of every series and label the SLO rules record: read by the generator, `slo status` and dashboards.

Every SLO rule reads only the normalized `inferwatch:*` series of inferwatch.conventions.normalized
and records the names below, following `level:metric:operations`.
"""

from __future__ import annotations

# Labels added to every recorded SLO series.
SLO_LABEL = "slo"
WINDOW_LABEL = "window"

# Good and total events per second over the normalization's rate window, per SLO group.
# Recorded only while there is traffic, so long windows sum real events and a stretch
# without traffic is "no data" rather than 0 % or NaN.
GOOD_EVENTS = "inferwatch:slo_good_events:rate5m"
TOTAL_EVENTS = "inferwatch:slo_total_events:rate5m"
# Checkpoints of the SLO's good and total events per pod (so a counter reset stays visible to
# increase()), recorded by the SLO's checkpoint group from the normalized counters
# (inferwatch.conventions.normalized.counter_series). Labels: slo, namespace, pod and the SLO's
# group_by labels. Fine: the pod's counter at every run of the group (every 5 minutes) and, for
# 10 minutes after a pod is gone, its last value. Coarse: from the fine ones, every hour and
# wherever a pod's counter starts, ends or resets, so its first, last, pre-reset and post-reset
# values are never skipped. Every window longer than 5 minutes is increase() over them: a
# Prometheus outage or a missed evaluation only moves the next checkpoint, and the counters' jump
# across the gap is counted.
GOOD_CHECKPOINT_FINE = "inferwatch:slo_good_events:checkpoint5m"
TOTAL_CHECKPOINT_FINE = "inferwatch:slo_total_events:checkpoint5m"
GOOD_CHECKPOINT_COARSE = "inferwatch:slo_good_events:checkpoint1h"
TOTAL_CHECKPOINT_COARSE = "inferwatch:slo_total_events:checkpoint1h"
# Good and total events over each long window (label `window`: 1d, 3d, 30d …), summed per SLO
# group from the coarse checkpoints by the SLO's long-window group every 5 minutes: the SLO group
# reads only the latest (`last_over_time`), so a 30-day window costs 720 samples per pod every
# 5 minutes, not 43,200 every minute.
GOOD_EVENTS_WINDOW = "inferwatch:slo_good_events:increase"
TOTAL_EVENTS_WINDOW = "inferwatch:slo_total_events:increase"
# How far back the SLO group looks for the latest long-window sums: two runs of the long-window
# group. Older sums are no data: after Prometheus was down for longer, the long windows read no
# data until that group has summed them again (within 5 minutes of the restart), rather than a
# figure that misses the outage; a group that stopped raises InferwatchSLORecordingGap.
WINDOW_SUM_LOOKBACK = "10m"
# How far back the SLO's slower groups are expected to have run at least once (InferwatchSLORecordingGap):
# longer than the long-window group's interval.
STOPPED_AFTER = "15m"
# The SLO's recording ran: the evaluation time (unix seconds), recorded by its checkpoint group at
# every run (every 5 minutes). Label: slo. A missing sample is a gap in the SLO's recording.
RECORDING_HEARTBEAT = "inferwatch:slo_recording:heartbeat"
# Share of each window (label `window`) in which the SLO's recording ran (heartbeats present /
# heartbeats due, at most 1), recorded by the long-window group. Below 1, figures over that
# window rest on a gap: its events are counted from the counters' jump across it, but when they
# happened within it is unknown, and a pod restarted inside it loses its events before the restart.
RECORDING_COVERAGE = "inferwatch:slo_recording_coverage:ratio"
# The window the recording-gap alert watches (always recorded in RECORDING_COVERAGE).
GAP_WINDOW = "1h"
# Error ratio over `window` divided by the error budget (1 - objective): 1 spends the budget
# exactly over the SLO window. Label `window` holds the Prometheus duration.
BURN_RATE = "inferwatch:slo_burn_rate:ratio"
# 1 - burn rate over the SLO window: the share of the error budget left (negative: overspent).
ERROR_BUDGET_REMAINING = "inferwatch:slo_error_budget_remaining:ratio"

# Alert names.
ALERT_PAGE = "InferwatchSLOBurnRatePage"
ALERT_TICKET = "InferwatchSLOBurnRateTicket"
ALERT_ABSENT = "InferwatchSLOMetricsAbsent"
ALERT_RECORDING_GAP = "InferwatchSLORecordingGap"
# Label of InferwatchSLORecordingGap: which part of the recording is missing.
GAP_REASON_LABEL = "reason"
GAP_REASON_GAP = "gap"  # the recording stopped and resumed within the gap window
GAP_REASON_CHECKPOINTS = "checkpoints-stopped"  # the checkpoint group records no heartbeat
GAP_REASON_LONG_WINDOWS = "long-windows-stale"  # the long-window group has not run for 3 intervals

# Suffixes of the names of each SLO's other rule groups (after the SLO's own group name).
CHECKPOINT_GROUP_SUFFIX = "-checkpoints"
LONG_GROUP_SUFFIX = "-long-windows"
# The group recording the normalized counters every SLO's checkpoints read (one for all SLOs; it
# reads raw vLLM counters, so its name starts like every normalization group's).
COUNTER_GROUP = "inferwatch-normalize-slo-counters"
# How long a group that stopped reporting is still expected back by the absent alert.
ABSENT_MEMORY = "1d"
