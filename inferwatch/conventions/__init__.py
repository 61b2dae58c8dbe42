"""Names of every recorded `inferwatch:*` series, label and window, shared by every area.

`normalized` holds what the normalization rules record from raw vLLM/GPU series, `slo` what
the SLO rules record, `cost` what the cost rules record. Alerts, SLOs, cost rules, dashboards
and the deploy manifests read names only from here.
"""

from inferwatch.conventions import cost, normalized, slo

__all__ = ["cost", "normalized", "slo"]
