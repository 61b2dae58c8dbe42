"""Prometheus durations as inferwatch.yaml writes them (`for:` of an alert): one unit, bounded."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# One unit, as alert `for:` clauses take it: 30s, 10m, 1h, 2d; "0s" means "fire at once".
_DURATION = re.compile(r"^(0|[1-9][0-9]{0,39})(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# An alert held longer than a week before firing is a typo (and outlives most retentions).
MAX_FOR_SECONDS = 7 * 86400


def duration_seconds(text: str) -> int:
    """Seconds of a one-unit duration ("10m" -> 600); raises ValueError for any other form."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 1h or 0s (one unit: s, m, h or d)")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _check_for(text: str) -> str:
    if duration_seconds(text) > MAX_FOR_SECONDS:
        raise ValueError(f"{text} is longer than the 7d an alert may wait before firing")
    return text


# The hold duration of an alert (`for:`), between 0s (fires at the first matching evaluation) and 7d.
ForDuration = Annotated[str, AfterValidator(_check_for)]
