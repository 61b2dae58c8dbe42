"""Histogram bucket boundaries a latency threshold must sit on: vLLM's defaults, or what Prometheus scraped.

A latency SLI counts `bucket{le=T}` as good events, so T must be a real boundary: otherwise
the rule silently reads nothing. The defaults (and the config's `buckets:` for deployments
using `--custom-histogram-buckets`) live in inferwatch.config.buckets and are checked when the
configuration is loaded; `slo check --prometheus` also reads the `le` values Prometheus holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from inferwatch.config.buckets import VLLM_DEFAULT_BUCKETS, is_boundary
from inferwatch.conventions.normalized import histogram_series
from inferwatch.prom import PrometheusReader
from inferwatch.promql import selector

__all__ = ["VLLM_DEFAULT_BUCKETS", "is_boundary", "scraped_boundaries"]


def scraped_boundaries(
    reader: PrometheusReader,
    kind: str,
    at: datetime | None = None,
    lookback: str = "1d",
    matchers: Mapping[str, str] | None = None,
) -> list[float]:
    """The finite `le` values every pod's normalized ``kind`` histogram had over ``lookback`` before ``at``
    (only of the series whose labels equal ``matchers``, e.g. one namespace's model).

    A boundary only some pods have (vLLM's 2.5 s beside SGLang's 2 and 4 s) is left out: a
    threshold there would count the other pods' requests as bad. Both spellings ("2" from Go
    clients or Prometheus 3's normalization, "2.0" from vLLM on Prometheus 2) parse to the same float.
    """
    series = selector(histogram_series(kind, "bucket"), dict(matchers or {}))
    # Over a whole lookback, so a histogram that saw no scrape in the last minutes still counts.
    pods = f"group by (namespace, pod, le) (last_over_time({series}[{lookback}]))"
    everywhere = f"count by (le) ({pods}) == on () group_left () count(group by (namespace, pod) ({pods}))"
    samples = reader.query(everywhere, at)
    out: set[float] = set()
    for s in samples:
        le = s.labels.get("le", "")
        try:
            value = float(le)
        except ValueError:
            continue
        if math.isfinite(value):
            out.add(value)
    return sorted(out)
