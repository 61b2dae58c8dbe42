"""The controller's view of the Kubernetes API, and its implementation on lightkube.

`Cluster` is every call the controller makes; `KubernetesCluster` makes them with lightkube, the
client the Kubernetes test tier chose (inferwatch/localstack/kube.py): typed models of the v1.37
API, native server-side apply (`Client.apply`), watch with resource versions, generic resources for
CRDs, on httpx. It has no leader election: `inferwatch.app.controller.leader` implements client-go's
Lease protocol on it. Tests use an in-memory `Cluster`.

Every API failure surfaces as `ClusterError` (with the HTTP status when there was one), so the
controller can tell "conflict" and "gone" from "the API server is away" without knowing the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from inferwatch.app.controller import crd
from inferwatch.app.controller.status import rfc3339
from inferwatch.errors import InferwatchError

log = logging.getLogger(__name__)

PROMETHEUS_RULE = ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules")


class ClusterError(InferwatchError):
    """The API server refused a call or could not be reached (``status`` 0)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ADDED, MODIFIED, DELETED or BOOKMARK, and the object."""

    type: str
    object: dict[str, Any]


class Cluster(Protocol):
    """The Kubernetes calls of the controller."""

    def list_slos(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        """Every InferenceSLO (of ``namespace``, or all) and the list's resourceVersion."""
        ...

    def watch_slos(self, namespace: str | None, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        """InferenceSLO changes after ``resource_version``, for at most ``timeout_s``."""
        ...

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap, or None when it does not exist."""
        ...

    def watch_configmap(self, namespace: str, name: str, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        """Changes of one ConfigMap."""
        ...

    def get_rule(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A PrometheusRule, or None."""
        ...

    def apply_rule(self, obj: Mapping[str, Any], field_manager: str) -> None:
        """Server-side apply of a PrometheusRule (forced: the controller owns its fields)."""
        ...

    def delete_rule(self, namespace: str, name: str) -> None:
        """Delete a PrometheusRule (no error when it is gone)."""
        ...

    def patch_slo_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge ``status`` into an InferenceSLO's status subresource."""
        ...

    def emit_event(self, involved: Mapping[str, str], kind: str, reason: str, message: str, component: str) -> None:
        """Record a core/v1 Event about ``involved`` (apiVersion, kind, namespace, name, uid)."""
        ...


def event_body(
    involved: Mapping[str, str], kind: str, reason: str, message: str, component: str, now: datetime
) -> dict[str, Any]:
    """A core/v1 Event as `kubectl describe` shows it under the object."""
    stamp = rfc3339(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{involved['name']}.", "namespace": involved["namespace"]},
        "involvedObject": dict(involved),
        "type": kind,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class KubernetesCluster:
    """`Cluster` on a lightkube `Client`."""

    def __init__(self, client: Any) -> None:
        from lightkube.generic_resource import create_namespaced_resource

        self.client = client
        self._slo = create_namespaced_resource(crd.GROUP, crd.VERSION, crd.KIND, crd.PLURAL)
        self._rule = create_namespaced_resource(*PROMETHEUS_RULE)

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None = None) -> KubernetesCluster:
        """The kubeconfig given, else the pod's ServiceAccount (in-cluster), else $KUBECONFIG or ~/.kube/config."""
        from lightkube import Client, ConfigError, KubeConfig

        try:
            config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
            single = config.get(context_name=context)
        except (ConfigError, OSError) as err:
            raise ClusterError(f"no Kubernetes credentials: {err}") from None
        # trust_env off: REQUESTS_CA_BUNDLE / SSL_CERT_FILE must not replace the cluster's CA.
        return cls(Client(single, field_manager=FIELD_MANAGER_DEFAULT, trust_env=False))

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from httpx2 import HTTPError
        from lightkube import ApiError

        try:
            return fn(*args, **kwargs)
        except ApiError as err:
            raise ClusterError(f"{what}: {err.status.code} {err.status.message}", int(err.status.code or 0)) from None
        except (HTTPError, OSError) as err:
            raise ClusterError(f"{what}: API server unreachable ({type(err).__name__}: {err})") from None

    def list_slos(self, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
        def run() -> tuple[list[dict[str, Any]], str]:
            listing = self.client.list(self._slo, namespace=namespace or "*")
            items = [_plain(o) for o in listing]
            return items, str(listing.resourceVersion)

        result: tuple[list[dict[str, Any]], str] = self._call("list InferenceSLOs", run)
        return result

    def _watch(self, what: str, res: Any, **kwargs: Any) -> Iterator[WatchEvent]:
        from httpx2 import HTTPError
        from lightkube import ApiError

        try:
            for kind, obj in self.client.watch(res, **kwargs):
                yield WatchEvent(kind, _plain(obj))
        except ApiError as err:
            raise ClusterError(f"{what}: {err.status.code} {err.status.message}", int(err.status.code or 0)) from None
        except (HTTPError, OSError, ValueError) as err:
            raise ClusterError(f"{what}: watch ended ({type(err).__name__}: {err})") from None

    def watch_slos(self, namespace: str | None, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        yield from self._watch(
            "watch InferenceSLOs",
            self._slo,
            namespace=namespace or "*",
            resource_version=resource_version,
            server_timeout=timeout_s,
        )

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        from lightkube.resources.core_v1 import ConfigMap

        return self._get(f"get ConfigMap {namespace}/{name}", ConfigMap, namespace, name)

    def _get(self, what: str, res: Any, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _plain(self._call(what, self.client.get, res, name, namespace=namespace))
        except ClusterError as err:
            if err.status == 404:
                return None
            raise

    def watch_configmap(self, namespace: str, name: str, resource_version: str, timeout_s: int) -> Iterator[WatchEvent]:
        from lightkube.resources.core_v1 import ConfigMap

        yield from self._watch(
            f"watch ConfigMap {namespace}/{name}",
            ConfigMap,
            namespace=namespace,
            fields={"metadata.name": name},
            resource_version=resource_version or None,
            server_timeout=timeout_s,
        )

    def get_rule(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(f"get PrometheusRule {namespace}/{name}", self._rule, namespace, name)

    def apply_rule(self, obj: Mapping[str, Any], field_manager: str) -> None:
        meta = obj["metadata"]
        self._call(
            f"apply PrometheusRule {meta['namespace']}/{meta['name']}",
            self.client.apply,
            self._rule.from_dict(dict(obj)),
            field_manager=field_manager,
            force=True,
        )

    def delete_rule(self, namespace: str, name: str) -> None:
        try:
            self._call(
                f"delete PrometheusRule {namespace}/{name}", self.client.delete, self._rule, name, namespace=namespace
            )
        except ClusterError as err:
            if err.status != 404:
                raise

    def patch_slo_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        from lightkube.types import PatchType

        self._call(
            f"patch status of InferenceSLO {namespace}/{name}",
            self.client.patch,
            self._slo.Status,
            name,
            {"status": dict(status)},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    def emit_event(self, involved: Mapping[str, str], kind: str, reason: str, message: str, component: str) -> None:
        from lightkube.resources.core_v1 import Event

        body = Event.from_dict(event_body(involved, kind, reason, message, component, datetime.now(UTC)))
        self._call(f"record Event {reason}", self.client.create, body, namespace=involved["namespace"])


FIELD_MANAGER_DEFAULT = "inferwatch-controller"


def _plain(obj: Any) -> dict[str, Any]:
    """A lightkube object (typed model or generic dict) as plain JSON data."""
    if hasattr(obj, "to_dict"):
        data: dict[str, Any] = obj.to_dict()
        return data
    return dict(obj)
