"""What the controller asks Prometheus before it applies an SLO's rules, cached for a short while.

The bucket boundaries of the histogram an SLO reads (only its own series: its namespace, its
model) and the retention, so a threshold off the buckets or a window longer than the retention is
refused with a condition instead of becoming rules that count nothing. With 1,000 SLOs on a few
models the cache keeps this to a handful of queries per period.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from inferwatch.app.controller.model import PrometheusFacts
from inferwatch.prom import PrometheusReader, QueryError
from inferwatch.slo.buckets import scraped_boundaries
from inferwatch.slo.model import SLO, LatencySLI

# How long a bucket or retention answer is reused.
CACHE_S = 60.0
# How far back a bucket series counts as scraped.
BUCKET_LOOKBACK = "1d"
_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


def retention_seconds(text: str) -> float | None:
    """Seconds of Prometheus's storageRetention ("15d", "1y2w", "15d or 10GiB"); None when it is
    size-based only or unknown."""
    for word in text.split():
        parts = _DURATION.findall(word)
        if parts and "".join(n + u for n, u in parts) == word:
            return sum(int(n) * _UNITS[u] for n, u in parts)
    return None


class PrometheusFactsReader:
    """`PrometheusFacts` of an SLO from one Prometheus, cached for CACHE_S."""

    def __init__(self, reader: PrometheusReader, clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self.clock = clock
        self._cache: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: object, fetch: Callable[[], object]) -> object:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        value = fetch()
        # "No histogram yet" is not kept: the first scrape of a new model must count at once.
        if value != ():
            with self._lock:
                self._cache[key] = (now, value)
        return value

    def retention(self) -> float | None:
        """Prometheus's retention in seconds; None when it does not say (Thanos, Mimir: no runtimeinfo)."""

        def fetch() -> float | None:
            try:
                info = self.reader.runtime_info()
            except QueryError:
                return None
            return retention_seconds(str(info.get("storageRetention", "")))

        value = self._cached("retention", fetch)
        return value if isinstance(value, float | int) else None

    def facts(self, slo: SLO) -> PrometheusFacts:
        """The boundaries scraped for ``slo``'s histogram (its own series) and the retention."""
        boundaries: tuple[float, ...] | None = None
        if isinstance(slo.sli, LatencySLI):
            kind, matchers = slo.sli.kind, dict(slo.matchers)
            key = ("buckets", kind, tuple(sorted(matchers.items())))
            found = self._cached(
                key, lambda: tuple(scraped_boundaries(self.reader, kind, None, BUCKET_LOOKBACK, matchers))
            )
            boundaries = found if isinstance(found, tuple) else ()
        return PrometheusFacts(boundaries, self.retention())
