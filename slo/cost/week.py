"""ISO weeks in UTC: parsing `2026-W47` and finding the last full week."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from inferwatch.errors import UsageError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class IsoWeek:
    """One ISO week: Monday 00:00 UTC to the next Monday 00:00 UTC."""

    year: int
    week: int

    @property
    def label(self) -> str:
        """``2026-W47``."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC."""
        return datetime.combine(date.fromisocalendar(self.year, self.week, 1), datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC (exclusive)."""
        return self.start + timedelta(days=7)

    def previous(self) -> IsoWeek:
        """The ISO week before this one."""
        iso = (self.start - timedelta(days=7)).isocalendar()
        return IsoWeek(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Parse ``YYYY-Www``; raises UsageError naming the value when it is not a real ISO week."""
        m = _WEEK.match(text.strip())
        if not m:
            raise UsageError(f"--week {text!r}: expected an ISO week like 2026-W47")
        year, week = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise UsageError(f"--week {text!r}: {year} has no ISO week {week}") from None
        return cls(year, week)

    @classmethod
    def containing(cls, now: datetime) -> IsoWeek:
        """The ISO week ``now`` (UTC) falls in: the week so far."""
        iso = now.astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_full(cls, now: datetime) -> IsoWeek:
        """The last ISO week that ended before ``now`` (UTC)."""
        iso = (now.astimezone(UTC) - timedelta(days=7)).isocalendar()
        return cls(iso.year, iso.week)
