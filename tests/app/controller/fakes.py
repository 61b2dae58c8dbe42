"""An in-memory Kubernetes API and Prometheus for the controller's unit tests."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inferwatch.app.controller import crd
from inferwatch.app.controller.kube import ClusterError, WatchEvent
from inferwatch.config import PrometheusSettings
from inferwatch.errors import PrometheusUnavailableError
from inferwatch.prom import PrometheusReader, Sample


@dataclass
class FakeCluster:
    """The calls of `Cluster`, on dictionaries; ``down`` makes every call fail as an unreachable server."""

    slos: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    configmaps: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    down: bool = False
    fail_apply: set[str] = field(default_factory=set)
    _uid: int = 0

    def _check(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise ClusterError(f"{what}: API server unreachable (ConnectError)")

    def add_slo(self, namespace: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update an InferenceSLO as the API server would (uid, generation)."""
        key = f"{namespace}/{name}"
        old = self.slos.get(key)
        if old is None:
            self._uid += 1
            meta: dict[str, Any] = {"namespace": namespace, "name": name, "uid": f"uid-{self._uid}", "generation": 1}
            obj: dict[str, Any] = {
                "apiVersion": crd.API_VERSION,
                "kind": crd.KIND,
                "metadata": meta,
                "spec": dict(spec),
                "status": {},
            }
        else:
            obj = old
            if obj["spec"] != spec:
                obj["metadata"]["generation"] += 1
            obj["spec"] = dict(spec)
        self.slos[key] = obj
        return copy.deepcopy(obj)

    def list_slos(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        self._check("list")
        return [copy.deepcopy(o) for o in self.slos.values()], "1"

    def watch_slos(self, namespace: str | None, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        self._check("watch")
        return iter(())

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check("get configmap")
        return copy.deepcopy(self.configmaps.get(f"{namespace}/{name}"))

    def watch_configmap(self, namespace: str, name: str, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        self._check("watch configmap")
        return iter(())

    def get_rule(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check(f"get rule {namespace}/{name}")
        return copy.deepcopy(self.rules.get(f"{namespace}/{name}"))

    def apply_rule(self, obj: Mapping[str, Any], field_manager: str) -> None:
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        self._check(f"apply {key}")
        if key in self.fail_apply:
            raise ClusterError(f"apply {key}: 422 invalid", 422)
        self.rules[key] = copy.deepcopy(dict(obj))

    def delete_rule(self, namespace: str, name: str) -> None:
        self._check(f"delete {namespace}/{name}")
        self.rules.pop(f"{namespace}/{name}", None)

    def patch_slo_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self._check(f"status {namespace}/{name}")
        obj = self.slos.get(f"{namespace}/{name}")
        if obj is None:
            raise ClusterError("not found", 404)
        obj["status"] = {**obj.get("status", {}), **copy.deepcopy(dict(status))}

    def emit_event(self, involved: Mapping[str, str], kind: str, reason: str, message: str, component: str) -> None:
        self._check(f"event {reason}")
        self.events.append((f"{involved['namespace']}/{involved['name']}", kind, reason, message))

    def status(self, key: str) -> dict[str, Any]:
        status: dict[str, Any] = self.slos[key]["status"]
        return status

    def ready(self, key: str) -> dict[str, Any]:
        return next(c for c in self.status(key).get("conditions", []) if c["type"] == "Ready")


Answer = Callable[[str], list[Sample]]


class FakePrometheus(PrometheusReader):
    """A PrometheusReader whose answers come from ``answer(expr)``; ``down`` makes it unreachable."""

    def __init__(self, answer: Answer | None = None, retention: str = "30d") -> None:
        super().__init__(PrometheusSettings(url="http://fake:9090", retries=0))
        self.answer = answer or (lambda expr: [])
        self.retention = retention
        self.down = False
        self.queries: list[str] = []

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        self.queries.append(expr)
        if self.down:
            raise PrometheusUnavailableError("Prometheus at http://fake:9090 did not answer")
        return self.answer(expr)

    def runtime_info(self) -> dict[str, Any]:
        if self.down:
            raise PrometheusUnavailableError("Prometheus at http://fake:9090 did not answer")
        return {"storageRetention": self.retention}


def buckets(*boundaries: float) -> Answer:
    """Answers the bucket query with these `le` values (vLLM's spelling: 2.0), nothing else."""

    def answer(expr: str) -> list[Sample]:
        if expr.startswith("count by (le)"):
            return [Sample({"le": repr(float(b))}, 1.0) for b in boundaries] + [Sample({"le": "+Inf"}, 1.0)]
        return []

    return answer


def with_budget(
    budget_left: float,
    burn: Mapping[str, float],
    base: Answer,
    coverage: Mapping[str, float] | None = None,
    heartbeats: float = 3.0,
) -> Answer:
    """Adds recorded SLO series: the budget left and burn rates by window, for every SLO asked about, and
    the recording's coverage by window (none by default) and its heartbeats of the last 15 minutes (3 of 3)."""

    def answer(expr: str) -> list[Sample]:
        slo = re.search(r'slo="([^"]+)"', expr)
        labels = {"slo": slo.group(1)} if slo else {}
        if expr.startswith("last_over_time(inferwatch:slo_recording_coverage:ratio"):
            return [Sample({**labels, "window": w}, v) for w, v in (coverage or {}).items()]
        if expr.startswith("count_over_time(inferwatch:slo_recording:heartbeat"):
            return [Sample(labels, heartbeats)] if heartbeats else []
        if expr.startswith("inferwatch:slo_error_budget_remaining:ratio"):
            return [Sample(labels, budget_left)]
        if expr.startswith("inferwatch:slo_burn_rate:ratio"):
            return [Sample({**labels, "window": w}, v) for w, v in burn.items()]
        if expr.startswith("1 - inferwatch:slo_burn_rate:ratio"):
            return [Sample(labels, 0.995)]
        return base(expr)

    return answer
