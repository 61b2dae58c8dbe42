"""Metric families built from the series contract (`inferwatch.contract`), never from bare names.

A collector asks for the family of a contract `Series` and adds samples with the label values in
the contract's label order; the name, type, help text and label names all come from the contract.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from inferwatch.contract import Kind, Series

Family = GaugeMetricFamily | CounterMetricFamily


def family(series: Series) -> Family:
    """An empty family for `series` (an info series is a gauge whose samples are 1)."""
    if series.kind is Kind.COUNTER:
        return CounterMetricFamily(series.family_name, series.help, labels=list(series.labels))
    return GaugeMetricFamily(series.family_name, series.help, labels=list(series.labels))


def single(series: Series, value: float) -> GaugeMetricFamily:
    """A label-less gauge family holding one value."""
    if series.labels or series.kind is Kind.COUNTER:
        raise ValueError(f"{series.name} is not a label-less gauge")
    out = GaugeMetricFamily(series.family_name, series.help, labels=[])
    out.add_metric([], value)
    return out


def add(target: Family, labels: Sequence[str], value: float | None) -> None:
    """Add one sample unless `value` is None (a reading NVML could not give is left out)."""
    if value is not None:
        target.add_metric(list(labels), value)
