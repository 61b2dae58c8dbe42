"""Pricing: what a GPU-hour and a kWh cost, for cost-per-token attribution (the `pricing:` section)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat


class IdlePolicy(StrEnum):
    """What the weekly report does with the cost of GPU time nobody holds."""

    SEPARATE = "separate"  # idle GPU time is a line of its own (default: idle capacity stays visible)
    SHARE = "share"  # spread over namespaces in proportion to their GPU cost


class Pricing(BaseModel):
    """GPU-hour prices by GPU model, energy price and PUE, currency and the idle-cost policy."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code")
    default_gpu_hour: float = Field(
        2.5, ge=0, description="price of one GPU-hour for GPU models not listed (on-prem: amortized figure)"
    )
    gpu_hour: dict[str, NonNegativeFloat] = Field(
        default_factory=dict,
        description="price per GPU-hour by GPU model name exactly as NVML reports it (gpu_model label)",
    )
    energy_kwh: float | None = Field(
        None, ge=0, description="price of one kWh of electricity; unset: energy is reported in kWh, not priced"
    )
    pue: float = Field(1.0, ge=1.0, le=3.0, description="power usage effectiveness multiplying GPU energy")
    idle_policy: IdlePolicy = Field(
        IdlePolicy.SEPARATE, description="separate: idle GPU cost is its own line; share: spread by GPU-cost weight"
    )
    rule_interval_s: int = Field(
        60, ge=10, le=600, description="evaluation interval of the cost recording rules (the report integrates over it)"
    )
    low_utilization: float = Field(
        0.3,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="the weekly report lists pods whose GPUs stayed under this busy ratio (0-1) as savings",
    )
    billing_account: str = Field(
        "inferwatch",
        min_length=1,
        max_length=200,
        description="FOCUS BillingAccountId/Name of the report's CSV (your cluster or cost centre)",
    )
    provider: str = Field(
        "Self-hosted",
        min_length=1,
        max_length=200,
        description="FOCUS ServiceProviderName (and ProviderName, PublisherName): the organisation that provides "
        "the GPUs to the teams; also HostProviderName and InvoiceIssuerName unless cost_report sets them. "
        "Default 'Self-hosted': the GPUs are run in-house, and inferwatch only generates the data",
    )
