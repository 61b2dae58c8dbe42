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
# Sums of the series above over one hour, recorded once an hour by each SLO's hourly group: long
# windows (a day and more) sum these instead of every 5-minute sample. They are proportional to the
# hour's events (the constant is the evaluation interval), so they are only ever read as good/total.
GOOD_EVENTS_HOURLY = "inferwatch:slo_good_events:rate5m_sum1h"
TOTAL_EVENTS_HOURLY = "inferwatch:slo_total_events:rate5m_sum1h"
# Sums of the hourly sums over each long window (label `window`: 1d, 3d, 30d …), recorded by the
# hourly group right after them: the SLO group reads only the latest of these (`last_over_time`),
# so a 30-day window costs the hourly group 720 samples once an hour, not the SLO group every minute.
GOOD_EVENTS_WINDOW = "inferwatch:slo_good_events:rate5m_sum_window"
TOTAL_EVENTS_WINDOW = "inferwatch:slo_total_events:rate5m_sum_window"
# How far back the SLO group looks for the latest window sum: one hourly evaluation and a margin
# for a late one; a window sum older than this (the hourly group stopped) is no data.
WINDOW_SUM_LOOKBACK = "90m"
# Error ratio over `window` divided by the error budget (1 - objective): 1 spends the budget
# exactly over the SLO window. Label `window` holds the Prometheus duration.
BURN_RATE = "inferwatch:slo_burn_rate:ratio"
# 1 - burn rate over the SLO window: the share of the error budget left (negative: overspent).
ERROR_BUDGET_REMAINING = "inferwatch:slo_error_budget_remaining:ratio"

# Alert names.
ALERT_PAGE = "InferwatchSLOBurnRatePage"
ALERT_TICKET = "InferwatchSLOBurnRateTicket"
ALERT_ABSENT = "InferwatchSLOMetricsAbsent"

# Suffix of the name of each SLO's hourly rule group (after the SLO's own group name).
HOURLY_GROUP_SUFFIX = "-hourly"
# How long a group that stopped reporting is still expected back by the absent alert.
ABSENT_MEMORY = "1d"
