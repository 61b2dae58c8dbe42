"""Week over week, like with like: the two weeks' ledgers over the hours both have data for.

A week with data for only its weekend compared with a whole week would show every team up by
hundreds of percent and call teams "new" that were merely not observed. So the comparison takes,
per cluster, the hours of the week (Monday 00:00 + k hours) that both weeks have data for, prices
each week's GPU time in those hours alone, and compares those. Comparing the same hours of the
week also keeps the weekly shape (busy weekdays, quiet weekends) out of the change, which a
per-covered-hour average would not. A namespace is "new" only when it had no cost in compared
hours of the previous week, and "gone" when it has none in this week's. Moves under 0.1 % of the
compared bill are not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from inferwatch.slo.cost.figures import MOVERS, NOT_ATTRIBUTED, WEEK_HOURS, Bill, Key, label_key, ratio
from inferwatch.slo.cost.ledger import CENT, ZERO, Line, LineKind
from inferwatch.slo.cost.week import IsoWeek

MATERIALITY = Decimal("0.001")  # moves smaller than this share of the compared bill are not listed


@dataclass(frozen=True)
class Change:
    """How much one namespace, model or team cost in the compared hours of this week and the previous one."""

    cluster: str
    name: str  # namespace, team or "namespace/model"
    previous: Decimal
    current: Decimal

    @property
    def delta(self) -> Decimal:
        """Current minus previous cost."""
        return self.current - self.previous

    @property
    def ratio(self) -> float:
        """Relative change (NaN when the previous week had no cost in the compared hours)."""
        return ratio(float(self.delta), float(self.previous))

    @property
    def status(self) -> str:
        """ "new" when it had no cost in the compared hours of the previous week, "gone" when it has none now."""
        if self.previous == 0 and self.current > 0:
            return "new"
        if self.current == 0 and self.previous > 0:
            return "gone"
        return ""


@dataclass(frozen=True)
class Comparison:
    """This week against the previous one over the hours both have data for, per cluster (like with like)."""

    previous_week: IsoWeek
    hours: Mapping[str, int]  # cluster -> hours of the week both weeks have data for
    previous_coverage: Mapping[str, float]  # cluster -> hours the previous week recorded
    current: tuple[Line, ...]  # this week's ledger over the compared hours
    previous: tuple[Line, ...]  # the previous week's ledger over the same hours
    namespace_labels: Mapping[Key, Mapping[str, str]] = field(default_factory=dict)

    @property
    def current_bill(self) -> Bill:
        """This week over the compared hours."""
        return Bill(self.current)

    @property
    def previous_bill(self) -> Bill:
        """The previous week over the compared hours."""
        return Bill(self.previous)

    @property
    def compared_hours(self) -> int:
        """Compared hours, all clusters together (the most any one cluster has)."""
        return max(self.hours.values(), default=0)

    @property
    def full(self) -> bool:
        """Both weeks have every hour of every cluster: the compared hours are the whole week."""
        return bool(self.hours) and all(h >= WEEK_HOURS for h in self.hours.values())

    def _changes(self, key: str, group_key: str = "") -> tuple[Change, ...]:
        def costs(lines: tuple[Line, ...], labels: Mapping[Key, Mapping[str, str]]) -> dict[tuple[str, str], Decimal]:
            out: dict[tuple[str, str], Decimal] = {}
            for ln in lines:
                if ln.kind is LineKind.IDLE:
                    continue
                if key == "namespace":
                    k = (ln.cluster, ln.namespace)
                elif key == "model":
                    k = (ln.cluster, f"{ln.namespace}/{ln.model or NOT_ATTRIBUTED}")
                else:
                    value = labels.get((ln.cluster, ln.namespace), {}).get(label_key(group_key), "")
                    k = ("", value or f"(no {group_key} label)")
                out[k] = out.get(k, ZERO) + ln.cost
            return out

        now, before = costs(self.current, self.namespace_labels), costs(self.previous, self.namespace_labels)
        return _top_changes(now, before, self.material)

    @property
    def material(self) -> Decimal:
        """The smallest move listed: 0.1 % of the larger compared bill (a cent at least).

        Rule evaluations at the edges of a gap (the minute a history starts, a pod's last sample)
        move a few cents; listing those among what "moved most" would bury the real moves.
        """
        bill = max(self.current_bill.total_cost, self.previous_bill.total_cost)
        return max(CENT, (bill * MATERIALITY).quantize(CENT))

    def namespace_changes(self) -> tuple[Change, ...]:
        """The namespaces whose cost moved most in the compared hours."""
        return self._changes("namespace")

    def model_changes(self) -> tuple[Change, ...]:
        """The (namespace, model) pairs whose cost moved most in the compared hours."""
        return self._changes("model")

    def group_changes(self, key: str) -> tuple[Change, ...]:
        """The values of namespace label ``key`` whose cost moved most in the compared hours."""
        return self._changes("group", key)


def _top_changes(
    now: dict[tuple[str, str], Decimal], before: dict[tuple[str, str], Decimal], material: Decimal
) -> tuple[Change, ...]:
    changes = [Change(k[0], k[1], before.get(k, ZERO), now.get(k, ZERO)) for k in sorted(now.keys() | before.keys())]
    moved = [ch for ch in changes if abs(ch.delta) >= material]
    moved.sort(key=lambda ch: (-abs(ch.delta), ch.cluster, ch.name))
    return tuple(moved[:MOVERS])
