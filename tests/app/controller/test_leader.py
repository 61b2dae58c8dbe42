"""client-go's Lease protocol on lightkube: one leader of two, takeover after expiry, release on stop."""

from __future__ import annotations

import copy
from typing import Any

import httpx2 as httpx
from lightkube import ApiError
from lightkube.models.meta_v1 import Status

from inferwatch.app.controller.leader import LeaseElector, LeaseSettings


def api_error(code: int) -> ApiError:
    return ApiError(request=httpx.Request("GET", "https://x"), status=Status(code=code, message=str(code)))


class FakeLeases:
    """get/create/replace of one Lease with resourceVersion checks, as the API server does them."""

    def __init__(self) -> None:
        self.lease: Any = None
        self.version = 0

    def get(self, res: Any, name: str, namespace: str) -> Any:
        if self.lease is None:
            raise api_error(404)
        return copy.deepcopy(self.lease)

    def create(self, obj: Any) -> Any:
        if self.lease is not None:
            raise api_error(409)
        self.version += 1
        obj.metadata.resourceVersion = str(self.version)
        self.lease = copy.deepcopy(obj)
        return obj

    def replace(self, obj: Any) -> Any:
        if obj.metadata.resourceVersion != self.lease.metadata.resourceVersion:
            raise api_error(409)
        self.version += 1
        obj.metadata.resourceVersion = str(self.version)
        self.lease = copy.deepcopy(obj)
        return obj


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_leader_of_two_then_takeover_after_expiry_and_release() -> None:
    api, clock = FakeLeases(), Clock()
    settings = LeaseSettings("monitoring", lease_duration_s=15)
    a = LeaseElector(api, LeaseSettings(**{**settings.__dict__, "identity": "a"}), clock)
    b = LeaseElector(api, LeaseSettings(**{**settings.__dict__, "identity": "b"}), clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.now += 10
    assert a.try_acquire_or_renew()  # renewed
    clock.now += 10
    assert not b.try_acquire_or_renew()  # the record changed since b last looked: its wait starts again
    clock.now += 16  # a stopped renewing
    assert b.try_acquire_or_renew()
    assert api.lease.spec.holderIdentity == "b" and api.lease.spec.leaseTransitions == 1
    assert not a.try_acquire_or_renew()
    b.release()
    assert api.lease.spec.holderIdentity is None
    assert a.try_acquire_or_renew()


def test_a_stale_read_loses_the_race() -> None:
    api, clock = FakeLeases(), Clock()
    a = LeaseElector(api, LeaseSettings("ns", identity="a"), clock)
    assert a.try_acquire_or_renew()
    stale = api.get(None, "", "")
    assert a.try_acquire_or_renew()
    stale.spec.holderIdentity = "b"
    try:
        api.replace(stale)
    except ApiError as err:
        assert err.status.code == 409
    else:
        raise AssertionError("a replace from a stale read must conflict")
