"""The weekly cost report's own settings (the `cost_report:` section): FOCUS version, teams, clusters, names.

Nothing here reaches a recording rule, so changing it never asks for `inferwatch build`; prices,
the idle policy and the FOCUS billing account stay in `pricing:` (the chart checks those against
the rules it ships).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A Prometheus label name (kube-state-metrics turns a Kubernetes label key into one).
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# A Kubernetes label key: optional DNS-subdomain prefix and "/", then a name of up to 63 characters.
_K8S_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


class FocusVersion(StrEnum):
    """The FinOps FOCUS versions the report can write (slo/cost/focus-<version>-columns.yaml)."""

    V1_2 = "1.2"
    V1_3 = "1.3"  # the newest ratified version whose text inferwatch's column spec is pinned to


class CostReportSettings(BaseModel):
    """How `inferwatch cost report` groups, names and writes the week."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    focus_version: FocusVersion = Field(
        FocusVersion.V1_3,
        description="FinOps FOCUS version of the CSV (1.3, or 1.2 for tools that do not read 1.3 yet); "
        "`cost report --focus-version` overrides it",
    )
    team_labels: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="namespace label keys to add cost up by (e.g. team, cost-center), read from "
        "kube-state-metrics' kube_namespace_labels (allow them with --metric-labels-allowlist)",
    )
    cluster_label: str = Field(
        "cluster",
        description="label that names the cluster on series from several clusters (an external label "
        "added by Thanos, Mimir, federation or remote write)",
    )
    default_cluster: str = Field(
        "default",
        min_length=1,
        max_length=200,
        description="the cluster name of series without cluster_label (a single-cluster Prometheus)",
    )
    host_provider: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="FOCUS HostProviderName: who runs the machines (e.g. AWS for EKS); unset: pricing.provider",
    )
    invoice_issuer: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="FOCUS InvoiceIssuerName: who charges the teams; unset: pricing.provider",
    )

    @field_validator("team_labels")
    @classmethod
    def _label_keys(cls, v: list[str]) -> list[str]:
        for key in v:
            if len(key) > 253 or not _K8S_LABEL_KEY.match(key):
                raise ValueError(f"{key!r} is not a Kubernetes label key")
        if len(set(v)) != len(v):
            raise ValueError("a label key is listed twice")
        return v

    @field_validator("cluster_label")
    @classmethod
    def _label_name(cls, v: str) -> str:
        if not _LABEL_NAME.match(v) or v.startswith("__"):
            raise ValueError(f"{v!r} is not a Prometheus label name")
        return v


def kube_state_label(key: str) -> str:
    """The label kube-state-metrics gives a Kubernetes label key on kube_namespace_labels.

    Every character that is not a letter, digit or underscore becomes ``_`` and ``label_`` is
    prepended: ``app.kubernetes.io/team`` is ``label_app_kubernetes_io_team``.
    """
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)
