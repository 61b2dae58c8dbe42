"""What any set of ledger lines adds up to: cost, waste, utilization, tokens, price per token, the bill.

Every money figure is a sum of ledger lines (inferwatch.slo.cost.ledger), whichever lines they
are: a namespace's, a model's, a team's, a week's or the hours of a week compared with the
previous one (inferwatch.slo.cost.compare).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from inferwatch.config.cost_report import kube_state_label
from inferwatch.slo.cost.ledger import ZERO, Line, LineKind, total

WEEK_HOURS = 168
MOVERS = 5  # namespaces, models and teams listed under "moved most"
NOT_ATTRIBUTED = "(not attributed to a model)"

Key = tuple[str, ...]


def per_mtok(cost: Decimal | float, tokens: float) -> float:
    """Cost per million tokens (NaN without tokens)."""
    return float(cost) / tokens * 1e6 if tokens > 0 else math.nan


def ratio(a: float, b: float) -> float:
    """a / b (NaN when b is not positive)."""
    return a / b if b > 0 else math.nan


def label_key(key: str) -> str:
    """A Kubernetes label key as kube_namespace_labels spells it, "label_" dropped (cost-center: cost_center)."""
    return kube_state_label(key).removeprefix("label_")


class Figures:
    """What any set of ledger lines adds up to (a namespace, a model, a team, the whole bill)."""

    lines: tuple[Line, ...]

    def _of(self, *kinds: LineKind) -> list[Line]:
        return [ln for ln in self.lines if ln.kind in kinds]

    @property
    def cost(self) -> Decimal:
        """Everything charged: held GPU time, and shared idle time under `idle_policy: share`."""
        return total(self._of(LineKind.HELD, LineKind.IDLE_SHARE))

    @property
    def allocated_cost(self) -> Decimal:
        """The cost of the GPU time held."""
        return total(self._of(LineKind.HELD))

    @property
    def idle_share(self) -> Decimal:
        """The share of idle GPU time charged (`idle_policy: share`; else 0)."""
        return total(self._of(LineKind.IDLE_SHARE))

    @property
    def gpu_hours(self) -> Decimal:
        """GPU-hours held."""
        return total(self._of(LineKind.HELD), "gpu_hours")

    @property
    def busy_gpu_hours(self) -> Decimal:
        """Held GPU-hours the GPUs were busy (where utilization is known)."""
        return sum((ln.busy_gpu_hours or ZERO for ln in self._of(LineKind.HELD)), ZERO)

    @property
    def measured_gpu_hours(self) -> Decimal:
        """Held GPU-hours whose utilization is known (the denominator of utilization)."""
        return total([ln for ln in self._of(LineKind.HELD) if ln.busy_gpu_hours is not None], "gpu_hours")

    @property
    def unused_gpu_hours(self) -> Decimal:
        """Held GPU-hours the GPUs were not busy."""
        return sum((ln.unused_gpu_hours or ZERO for ln in self._of(LineKind.HELD)), ZERO)

    @property
    def unused_cost(self) -> Decimal:
        """What the held-but-not-busy time cost: GPU-hours held x (1 - utilization), priced."""
        return total(self._of(LineKind.HELD), "unused_cost")

    @property
    def usage_cost(self) -> Decimal:
        """The busy part of the held cost."""
        return total(self._of(LineKind.HELD), "usage_cost")

    @property
    def utilization(self) -> float:
        """Busy / held GPU-hours where utilization is known."""
        return ratio(float(self.busy_gpu_hours), float(self.measured_gpu_hours))

    @property
    def energy_kwh(self) -> Decimal:
        """GPU energy of the GPU time held."""
        return total(self._of(LineKind.HELD), "energy_kwh")

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens served."""
        return sum(ln.prompt_tokens for ln in self.lines)

    @property
    def generation_tokens(self) -> int:
        """Generated tokens."""
        return sum(ln.generation_tokens for ln in self.lines)

    @property
    def tokens(self) -> int:
        """Prompt plus generation tokens."""
        return self.prompt_tokens + self.generation_tokens

    @property
    def per_mtok(self) -> float:
        """Charged cost per million tokens."""
        return per_mtok(self.cost, self.tokens)

    @property
    def usage_per_mtok(self) -> float:
        """Usage-based (busy time only) cost per million tokens."""
        return per_mtok(self.usage_cost, self.tokens)


@dataclass(frozen=True)
class Bill(Figures):
    """A whole ledger: the GPU bill of a week (or of the hours compared with the week before)."""

    lines: tuple[Line, ...]

    @property
    def idle_lines(self) -> tuple[Line, ...]:
        """GPU time nobody held, per cluster and GPU model (kept apart or shared)."""
        return tuple(ln for ln in self.lines if ln.kind in (LineKind.IDLE, LineKind.IDLE_SHARE))

    @property
    def total_cost(self) -> Decimal:
        """The GPU bill: every line."""
        return total(self.lines)

    @property
    def total_gpu_hours(self) -> Decimal:
        """Every GPU-hour: held and idle."""
        return total([ln for ln in self.lines if ln.kind is not LineKind.IDLE_SHARE], "gpu_hours")

    @property
    def idle_cost(self) -> Decimal:
        """What the GPU time nobody held cost (shared out or not)."""
        return total(self.idle_lines)

    @property
    def idle_gpu_hours(self) -> Decimal:
        """GPU-hours nobody held."""
        return total(self.idle_lines, "gpu_hours")

    @property
    def reported_idle_cost(self) -> Decimal:
        """Idle cost left on its own line (0 when shared out)."""
        return total([ln for ln in self.lines if ln.kind is LineKind.IDLE])

    @property
    def savings(self) -> Decimal:
        """What giving back idle GPUs and packing held ones to full use would save: idle + held-but-unused."""
        return self.idle_cost + self.unused_cost

    @property
    def bill_per_mtok(self) -> float:
        """The whole GPU bill (idle included) per million tokens served."""
        return per_mtok(self.total_cost, self.tokens)

    @property
    def idle_ratio(self) -> float:
        """Idle cost / the whole GPU bill."""
        return ratio(float(self.idle_cost), float(self.total_cost))
