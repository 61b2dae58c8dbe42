"""The normalization layer: raw engine, router, GPU and Kubernetes series recorded as `inferwatch:*` ones."""

from inferwatch.alerts.normalize.groups import NORMALIZE_GROUP_PREFIX, normalization_groups
from inferwatch.alerts.normalize.slo_counters import slo_counter_group

__all__ = ["NORMALIZE_GROUP_PREFIX", "normalization_groups", "slo_counter_group"]
