"""The normalization layer: raw engine, router, GPU and Kubernetes series recorded as `inferwatch:*` ones."""

from inferwatch.alerts.normalize.groups import NORMALIZE_GROUP_PREFIX, normalization_groups

__all__ = ["NORMALIZE_GROUP_PREFIX", "normalization_groups"]
