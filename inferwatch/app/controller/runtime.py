"""The controller's process: watches feed a work queue, workers run the reconciler's steps, a ticker
refreshes every SLO's status on the period; leader election decides which replica does it.

Keys of the queue: ``slo:<namespace>/<name>`` (an InferenceSLO's rules), ``status:<namespace>/<name>``
(its budget from Prometheus) and ``config`` (the chart's values). A key is worked on by one worker
at a time and queued at most once; a step that raises `Retry` is queued again after an exponential
back-off (capped), so a Prometheus or API server that goes away delays only its own keys.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from inferwatch.app.controller.kube import Cluster, ClusterError
from inferwatch.app.controller.reconciler import Reconciler, Retry

log = logging.getLogger(__name__)

CONFIG = "config"
MAX_BACKOFF_S = 60.0
WATCH_TIMEOUT_S = 300


class WorkQueue:
    """Keys to work on: deduplicated, one worker per key, delayed re-adds for back-off."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._ready: list[str] = []
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._later: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._closed = False

    def add(self, key: str, delay_s: float = 0.0) -> None:
        """Queue ``key`` (now or after ``delay_s``); a key already queued is not queued twice."""
        with self._cond:
            if delay_s > 0:
                heapq.heappush(self._later, (self._clock() + delay_s, key))
            elif key in self._busy:
                self._again.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
            self._cond.notify()

    def get(self, timeout_s: float = 1.0) -> str | None:
        """The next key to work on, or None after ``timeout_s`` (or once closed)."""
        deadline = self._clock() + timeout_s
        with self._cond:
            while not self._closed:
                now = self._clock()
                while self._later and self._later[0][0] <= now:
                    _, key = heapq.heappop(self._later)
                    if key not in self._queued and key not in self._busy:
                        self._queued.add(key)
                        self._ready.append(key)
                if self._ready:
                    key = self._ready.pop(0)
                    self._queued.discard(key)
                    self._busy.add(key)
                    return key
                wait = deadline - now
                if self._later:
                    wait = min(wait, self._later[0][0] - now)
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def done(self, key: str, retry: bool = False) -> None:
        """Finish ``key``; ``retry`` queues it again after a back-off that doubles with each failure."""
        with self._cond:
            self._busy.discard(key)
            again = key in self._again
            self._again.discard(key)
        if retry:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            self.add(key, min(MAX_BACKOFF_S, 0.5 * 2**failures))
        else:
            self._failures.pop(key, None)
        if again:
            self.add(key)

    def pending(self) -> int:
        """Keys queued now or being worked on (not counting delayed ones)."""
        with self._cond:
            return len(self._ready) + len(self._busy)

    def close(self) -> None:
        """Wake every waiting worker; get() returns None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass(frozen=True)
class RuntimeSettings:
    """Where the controller looks and how often."""

    namespace: str | None = None  # InferenceSLOs of this namespace only; None: every namespace
    configmap: tuple[str, str] | None = None  # (namespace, name) of the chart's values
    status_period_s: float = 60.0
    workers: int = 4


class Runtime:
    """Threads around a `Reconciler`: watchers, workers and the status ticker, until ``stop`` is set."""

    def __init__(self, reconciler: Reconciler, cluster: Cluster, settings: RuntimeSettings) -> None:
        self.reconciler = reconciler
        self.cluster = cluster
        self.settings = settings
        self.queue = WorkQueue()
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def handle(self, key: str) -> None:
        """Run the step of one key (called by the workers; tests call it directly)."""
        kind, _, rest = key.partition(":")
        if key == CONFIG:
            assert self.settings.configmap is not None
            if self.reconciler.apply_config(self.cluster.get_configmap(*self.settings.configmap)):
                for slo in self.reconciler.known():
                    self.queue.add(f"slo:{slo}")
        elif kind == "slo":
            self.reconciler.reconcile(rest)
        elif kind == "status":
            self.reconciler.refresh(rest)

    def _work(self) -> None:
        while not self.stop.is_set():
            key = self.queue.get(timeout_s=1.0)
            if key is None:
                continue
            retry = False
            try:
                self.handle(key)
            except (Retry, ClusterError) as err:
                log.warning("%s: %s; retrying", key, err)
                retry = True
            except Exception:
                # A bug in one key's step must not stop the others: log it with its traceback, retry later.
                log.exception("%s failed", key)
                retry = True
            self.queue.done(key, retry)

    def _watch_slos(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                objs, version = self.cluster.list_slos(self.settings.namespace)
                for key in self.reconciler.replace_all(objs):
                    self.queue.add(f"slo:{key}")
                backoff = 1.0
                while not self.stop.is_set():
                    for event in self.cluster.watch_slos(self.settings.namespace, version, WATCH_TIMEOUT_S):
                        version = str(event.object.get("metadata", {}).get("resourceVersion") or version)
                        seen = self.reconciler.observe(event.type, event.object)
                        if seen is not None:
                            self.queue.add(f"slo:{seen}")
                        if self.stop.is_set():
                            return
            except ClusterError as err:
                # 410 Gone: the version is too old, list again; anything else: the API server is away.
                log.warning("InferenceSLO watch: %s; listing again in %.0fs", err, backoff)
                self.stop.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _watch_config(self) -> None:
        assert self.settings.configmap is not None
        namespace, name = self.settings.configmap
        backoff = 1.0
        while not self.stop.is_set():
            try:
                self.queue.add(CONFIG)
                current = self.cluster.get_configmap(namespace, name)
                version = str((current or {}).get("metadata", {}).get("resourceVersion", ""))
                for _ in self.cluster.watch_configmap(namespace, name, version, WATCH_TIMEOUT_S):
                    self.queue.add(CONFIG)
                    if self.stop.is_set():
                        return
                backoff = 1.0
            except ClusterError as err:
                log.warning("ConfigMap %s/%s watch: %s; again in %.0fs", namespace, name, err, backoff)
                self.stop.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _tick(self) -> None:
        while not self.stop.wait(self.settings.status_period_s):
            for key in self.reconciler.applied_keys():
                self.queue.add(f"status:{key}")

    def prime(self) -> None:
        """Take the chart's values before any SLO is reconciled (so no rule is applied twice at start)."""
        backoff = 1.0
        while self.settings.configmap is not None and not self.stop.is_set():
            try:
                self.handle(CONFIG)
                return
            except (Retry, ClusterError) as err:
                log.warning("configuration not applied yet: %s; again in %.0fs", err, backoff)
                self.stop.wait(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def start(self) -> None:
        """Start every thread (daemon threads: a lost lease ends the process)."""
        targets: list[tuple[str, Callable[[], None]]] = [("watch-slos", self._watch_slos), ("status", self._tick)]
        if self.settings.configmap is not None:
            targets.append(("watch-config", self._watch_config))
        targets += [(f"worker-{i}", self._work) for i in range(self.settings.workers)]
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def healthy(self) -> bool:
        """Every thread started is still running (a follower, which started none, is healthy)."""
        return not self.stop.is_set() and all(t.is_alive() for t in self._threads)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every thread (a watch in flight ends at its timeout; threads are daemons)."""
        self.stop.set()
        self.queue.close()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
