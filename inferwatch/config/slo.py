"""SLO specifications: the `slos:` section of inferwatch.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SLOSpec(BaseModel):
    """One SLO definition (see docs/slo.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", description="unique name, DNS-label style")
    objective: float = Field(gt=0, lt=100, description="percent of good events, e.g. 99.5")
