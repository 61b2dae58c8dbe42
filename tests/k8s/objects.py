"""Typed reads of lightkube objects: their metadata and spec are Optional in the models, always set on
an object read back from the API server (a None here fails the test with the object's kind)."""

from __future__ import annotations

from typing import Any, Protocol

from lightkube.codecs import from_dict
from lightkube.core.resource import NamespacedResource
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.coordination_v1 import Lease


class _HasMeta(Protocol):
    @property
    def metadata(self) -> ObjectMeta | None: ...


def meta(obj: _HasMeta) -> ObjectMeta:
    """``obj``'s metadata."""
    assert obj.metadata is not None, f"{type(obj).__name__} without metadata"
    return obj.metadata


def labels(obj: _HasMeta) -> dict[str, Any]:
    """``obj``'s labels ({} when it has none)."""
    return dict(meta(obj).labels or {})


def owner(obj: _HasMeta) -> OwnerReference:
    """``obj``'s first owner reference."""
    refs = meta(obj).ownerReferences
    assert refs, f"{type(obj).__name__} {meta(obj).name} has no owner"
    return refs[0]


def holder(lease: Lease) -> str | None:
    """Who holds ``lease`` (None while nobody does)."""
    assert lease.spec is not None, "Lease without spec"
    return lease.spec.holderIdentity


def namespaced(doc: dict[str, Any]) -> NamespacedResource:
    """``doc`` as the lightkube object of a namespaced kind (from_dict's type covers every kind)."""
    obj = from_dict(doc)
    assert isinstance(obj, NamespacedResource), f"{doc.get('kind')} is not namespaced"
    return obj
