"""Leader election on a coordination.k8s.io Lease: client-go's protocol (tools/leaderelection) on lightkube.

Two replicas are safe: only the holder of the Lease runs the controller. Every change of the Lease
is a `replace` carrying the resourceVersion it read, so two candidates racing for it cannot both
win (the API server answers 409 to the second). A holder's Lease counts as expired when its record
has not changed for ``lease_duration_s`` *as this candidate observed it* (its own monotonic clock,
as client-go does), so clocks skewed between nodes do not matter. A leader that cannot renew
within ``renew_deadline_s`` stops leading and the process exits, so Kubernetes restarts it as a
follower while the other replica takes over; on SIGTERM the leader releases the Lease, so the
other replica takes over at once rather than after the lease duration.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    """The Lease and its timing (client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry)."""

    namespace: str
    name: str = "inferwatch-controller"
    identity: str = ""
    lease_duration_s: int = 15
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


def default_identity() -> str:
    """The pod's name (its hostname) and a random suffix, so a restarted pod is a new candidate."""
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class LeaseElector:
    """One candidate for one Lease."""

    def __init__(self, client: Any, settings: LeaseSettings, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self._monotonic = monotonic
        self._observed: tuple[str | None, object] | None = None
        self._observed_at = 0.0

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this candidate holds the Lease afterwards."""
        from httpx2 import HTTPError
        from lightkube import ApiError
        from lightkube.models.coordination_v1 import LeaseSpec
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.coordination_v1 import Lease

        s = self.settings
        now = self._now()
        try:
            try:
                lease = self.client.get(Lease, s.name, namespace=s.namespace)
            except ApiError as err:
                if err.status.code != 404:
                    raise
                spec = LeaseSpec(
                    holderIdentity=self.identity,
                    leaseDurationSeconds=s.lease_duration_s,
                    acquireTime=now,
                    renewTime=now,
                    leaseTransitions=0,
                )
                self.client.create(Lease(metadata=ObjectMeta(name=s.name, namespace=s.namespace), spec=spec))
                return True
            spec = lease.spec or LeaseSpec()
            record = (spec.holderIdentity, spec.renewTime)
            if record != self._observed:
                self._observed, self._observed_at = record, self._monotonic()
            duration = spec.leaseDurationSeconds or s.lease_duration_s
            held_by_other = bool(spec.holderIdentity) and spec.holderIdentity != self.identity
            if held_by_other and self._observed_at + duration > self._monotonic():
                return False
            if spec.holderIdentity != self.identity:
                spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
                spec.acquireTime = now
                log.info("taking Lease %s/%s over from %r", s.namespace, s.name, spec.holderIdentity)
            spec.holderIdentity = self.identity
            spec.leaseDurationSeconds = s.lease_duration_s
            spec.renewTime = now
            lease.spec = spec
            self.client.replace(lease)  # carries the resourceVersion read: 409 if another candidate moved first
            return True
        except ApiError as err:
            log.info("Lease %s/%s not acquired: %s", s.namespace, s.name, err.status.message)
            return False
        except (HTTPError, OSError) as err:
            log.warning("Lease %s/%s: API server unreachable (%s)", s.namespace, s.name, type(err).__name__)
            return False

    def release(self) -> None:
        """Give the Lease up (holder cleared, 1 s duration) so another replica takes over at once."""
        from lightkube import ApiError
        from lightkube.resources.coordination_v1 import Lease

        s = self.settings
        try:
            lease = self.client.get(Lease, s.name, namespace=s.namespace)
            if lease.spec is None or lease.spec.holderIdentity != self.identity:
                return
            lease.spec.holderIdentity = None
            lease.spec.leaseDurationSeconds = 1
            lease.spec.renewTime = self._now()
            self.client.replace(lease)
            log.info("released Lease %s/%s", s.namespace, s.name)
        except (ApiError, OSError) as err:
            log.warning("Lease %s/%s not released: %s", s.namespace, s.name, err)

    def run(self, lead: Callable[[], None], stopped: Callable[[], None], stop: threading.Event) -> None:
        """Wait for the Lease, call ``lead`` once held, renew it until ``stop`` is set (then release it)
        or until a renewal misses the deadline (then call ``stopped``)."""
        s = self.settings
        log.info("candidate %s for Lease %s/%s", self.identity, s.namespace, s.name)
        while not self.try_acquire_or_renew():
            if stop.wait(s.retry_period_s):
                return
        log.info("%s holds Lease %s/%s: leading", self.identity, s.namespace, s.name)
        lead()
        renewed = self._monotonic()
        while not stop.wait(s.retry_period_s):
            if self.try_acquire_or_renew():
                renewed = self._monotonic()
            elif self._monotonic() - renewed > s.renew_deadline_s:
                log.error("Lease %s/%s not renewed within %.0fs: stopping", s.namespace, s.name, s.renew_deadline_s)
                stopped()
                return
        self.release()
