"""Dashboard UIDs (the file names' stems) and the links between the dashboards and to the docs."""

from __future__ import annotations

from inferwatch.dashboards.model import Link

INFERENCE_UID = "inferwatch-inference"
GPU_UID = "inferwatch-gpu-fleet"
SLOS_UID = "inferwatch-slos"
COST_UID = "inferwatch-cost"

DOCS_BASE = "https://github.com/inferwatch/inferwatch/blob/main/docs"
WEEKLY_REPORT = Link("Weekly cost report", f"{DOCS_BASE}/cost.md")

# Grafana keeps the time range and the variables when a link says so.
_KEEP = "${__url_time_range}&${namespace:queryparam}&${model_name:queryparam}&${pod:queryparam}"


def to_dashboard(uid: str) -> str:
    """A link to another inferwatch dashboard keeping time range and variables."""
    return f"/d/{uid}?{_KEEP}"


def with_vars(uid: str) -> str:
    """A table-cell link to ``uid`` filtered on the clicked line's namespace and model."""
    fields = "var-namespace=${__data.fields.namespace}&var-model_name=${__data.fields.model_name}"
    return f"/d/{uid}?${{__url_time_range}}&{fields}"


SLOS = Link("SLOs dashboard", to_dashboard(SLOS_UID))
COST = Link("Cost dashboard", to_dashboard(COST_UID))
GPU = Link("GPU fleet dashboard", to_dashboard(GPU_UID))
INFERENCE = Link("Inference dashboard", to_dashboard(INFERENCE_UID))
