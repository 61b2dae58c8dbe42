"""SLO specifications: the `slos:` section of inferwatch.yaml (version 1 of the user-facing SLO spec).

This is what users write; `inferwatch.slo.model` turns it into the internal model the rule
generator reads, and returns warnings (odd but valid values) apart from errors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from inferwatch.config.buckets import Engine

SLIKind = Literal["ttft", "tpot", "e2e", "availability"]
SLOWindow = Literal["30d", "28d", "7d"]
GroupLabel = Literal["namespace", "model_name"]
FilterLabel = Literal["namespace", "model_name", "pod"]

LATENCY_KINDS: tuple[str, ...] = ("ttft", "tpot", "e2e")
# The highest objective whose error budget (1e-6) the rules still write exactly (12 significant digits).
MAX_OBJECTIVE_PERCENT = 99.9999
# Bounds on free-form fields: an SLO is a few lines, and the InferenceSLO CRD generated from this
# model needs them (the API server refuses CEL rules whose cost it cannot bound).
MAX_DESCRIPTION = 1024
MAX_REASONS = 16
MAX_LABEL_VALUE = 253

FinishedReason = Annotated[str, StringConstraints(min_length=1, max_length=64)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE)]


def _not_bool(value: object) -> object:
    # YAML `true` would otherwise pass as the number 1.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


class SLISpec(BaseModel):
    """What counts as a good event (see docs/slo.md for the exact definitions)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: SLIKind = Field(
        description="ttft: time to first token <= threshold; tpot: per-request time per output token "
        "<= threshold; e2e: end-to-end latency <= threshold; availability: finished without error"
    )
    threshold_seconds: float | None = Field(
        None,
        gt=0,
        description="latency kinds only: the threshold T, which must be a bucket boundary of the histogram",
    )
    error_finished_reasons: list[FinishedReason] = Field(
        default_factory=lambda: ["error"],
        min_length=1,
        max_length=MAX_REASONS,
        description="availability only: vLLM finished_reason values that count as errors (stop, length "
        "and abort are good by default)",
    )
    count_http_5xx: bool = Field(
        True,
        description="availability only: count HTTP 5xx responses of the vLLM API server as bad events "
        "(ignored when grouping by model_name: the HTTP series carry no model_name)",
    )

    _threshold_number = field_validator("threshold_seconds", mode="before")(_not_bool)

    @model_validator(mode="after")
    def _threshold_matches_kind(self) -> SLISpec:
        if self.kind in LATENCY_KINDS and self.threshold_seconds is None:
            raise ValueError(f"threshold_seconds is required for a {self.kind} SLI")
        if self.kind == "availability" and self.threshold_seconds is not None:
            raise ValueError("threshold_seconds applies to latency SLIs only, not availability")
        return self


class SLOSpec(BaseModel):
    """One SLO definition, version 1 of the spec (see docs/slo.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", description="unique name, DNS-label style")
    description: str = Field("", max_length=MAX_DESCRIPTION, description="free text shown in alerts and `slo status`")
    objective: float = Field(
        gt=0,
        le=MAX_OBJECTIVE_PERCENT,
        description=f"percent of good events, e.g. 99.5; at most {MAX_OBJECTIVE_PERCENT} (an error budget of 1e-6)",
    )
    window: SLOWindow = Field("30d", description="rolling SLO window; burn-rate windows scale with it")
    sli: SLISpec = Field(description="the service level indicator")
    group_by: list[GroupLabel] = Field(
        default_factory=list,
        max_length=2,
        description="one SLO series per value of these labels (namespace, model_name)",
    )
    matchers: dict[FilterLabel, LabelValue] = Field(
        default_factory=dict, description="only count series whose labels equal these values, e.g. namespace: prod"
    )
    engines: list[Engine] | None = Field(
        None,
        min_length=1,
        description="the serving engines of what this SLO judges (default: the top-level engines); a latency "
        "threshold must be a bucket boundary on each",
    )

    _objective_number = field_validator("objective", mode="before")(_not_bool)

    @field_validator("group_by")
    @classmethod
    def _unique_group_by(cls, v: list[str]) -> list[str]:
        twice = sorted({label for label in v if v.count(label) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} twice")
        return v
