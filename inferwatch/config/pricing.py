"""Pricing: what a GPU-hour and a kWh cost, for cost-per-token attribution."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Pricing(BaseModel):
    """GPU-hour prices by GPU model, energy price and currency."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code")
    default_gpu_hour: float = Field(2.5, ge=0, description="price of one GPU-hour for models not listed")
    gpu_hour: dict[str, float] = Field(default_factory=dict, description="price per GPU-hour by GPU model name")
