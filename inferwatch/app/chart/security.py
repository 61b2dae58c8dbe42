"""The chart values that secure both sides: the exporter's endpoint, and the readers' way into Prometheus.

``exporter.web`` is the exporter's side, the way kube-prometheus secures node-exporter: either its
own web configuration (exporter-toolkit's file, rendered into a Secret) with a certificate from
cert-manager or an existing TLS Secret and bcrypt ``basic_auth_users``, or kube-rbac-proxy in front
(Prometheus's ServiceAccount token, checked with a TokenReview and a SubjectAccessReview). The
ServiceMonitor gets the matching ``scheme``, ``tlsConfig`` and ``basicAuth`` or bearer token.

``prometheusClient`` is the readers' side (the cost report CronJob, and any in-cluster reader to
come): the chart fills the ``prometheus:`` settings of the mounted inferwatch.yaml with files it
mounts, a projected ServiceAccount token, a basic-auth Secret, a CA from a ConfigMap or Secret, a
tenant header, so no credential is ever in values, the ConfigMap or the pod spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KUBE_RBAC_PROXY_IMAGE = "quay.io/brancz/kube-rbac-proxy"
KUBE_RBAC_PROXY_TAG = "v0.19.1"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CertManagerValues(_Section):
    """A cert-manager Certificate for the exporter's Service names, renewed by cert-manager."""

    enabled: bool = Field(False, description="let cert-manager issue the exporter's certificate")
    issuerRef: dict[str, str] = Field(
        default_factory=lambda: {"name": "", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        description="the Issuer or ClusterIssuer that signs it (name, kind, group); a CA issuer puts ca.crt "
        "into the Secret, which the ServiceMonitor then trusts",
    )
    duration: str = Field("2160h", description="lifetime of the certificate")
    renewBefore: str = Field("360h", description="renew this long before it expires (the exporter reloads it)")


class ExporterTLSValues(_Section):
    """HTTPS for the exporter's port: /metrics and the probes."""

    enabled: bool = Field(False, description="serve the exporter over TLS (its web configuration's tls_server_config)")
    certManager: CertManagerValues = Field(default_factory=CertManagerValues, description="cert-manager issues it")
    existingSecret: str = Field(
        "", description="a kubernetes.io/tls Secret (tls.crt, tls.key) to serve instead of a cert-manager one"
    )
    caKey: str = Field(
        "ca.crt",
        description="key of the CA certificate in that Secret, which Prometheus verifies the exporter with; "
        "empty: Prometheus skips verification (insecureSkipVerify)",
    )


class ExporterBasicAuthValues(_Section):
    """Basic authentication of scrapes: bcrypt hashes for the exporter, the plain password for Prometheus."""

    enabled: bool = Field(False, description="require a user and password for /metrics (probes stay open)")
    users: dict[str, str] = Field(
        default_factory=dict,
        description='basic_auth_users of the web configuration: user name -> bcrypt hash (htpasswd -nBC 10 "" | '
        "tr -d ':\\n'); a hash is not the password, but treat it as sensitive",
    )
    existingSecret: str = Field(
        "",
        description="Secret with the user name and plain password Prometheus scrapes with (ServiceMonitor basicAuth)",
    )
    usernameKey: str = Field("username", description="key of the user name in that Secret")
    passwordKey: str = Field("password", description="key of the password in that Secret")


class KubeRbacProxyValues(_Section):
    """kube-rbac-proxy in front of the exporter, as kube-prometheus runs it in front of node-exporter."""

    enabled: bool = Field(
        False,
        description="put kube-rbac-proxy in front: the exporter listens on 127.0.0.1 only, scrapes need a token "
        "allowed to get the /metrics non-resource URL (kube-prometheus-stack's Prometheus has that)",
    )
    image: str = Field(KUBE_RBAC_PROXY_IMAGE, description="kube-rbac-proxy image repository")
    tag: str = Field(KUBE_RBAC_PROXY_TAG, description="kube-rbac-proxy image tag")
    digest: str = Field("", pattern=r"^(sha256:[0-9a-f]{64})?$", description="image digest; pins the image when set")
    upstreamPort: int = Field(
        9401, ge=1, le=65535, description="loopback port the exporter listens on behind the proxy"
    )
    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "10m", "memory": "20Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
        description="resources of the proxy container",
    )


class ExporterWebValues(_Section):
    """Who may read the exporter's /metrics: TLS and basic auth of its own, or kube-rbac-proxy in front."""

    tls: ExporterTLSValues = Field(default_factory=ExporterTLSValues, description="HTTPS")
    basicAuth: ExporterBasicAuthValues = Field(default_factory=ExporterBasicAuthValues, description="basic auth")
    kubeRbacProxy: KubeRbacProxyValues = Field(default_factory=KubeRbacProxyValues, description="kube-rbac-proxy")


class ServiceAccountTokenValues(_Section):
    """The pod's ServiceAccount token as a bearer token (OpenShift's Thanos querier, kube-rbac-proxy)."""

    enabled: bool = Field(False, description="send a projected token of the chart's ServiceAccount")
    audience: str = Field("", description="audience of the token; empty: the API server's (what TokenReview expects)")
    expirationSeconds: int = Field(3600, ge=600, description="lifetime; the kubelet rotates it, inferwatch re-reads it")
    clusterRole: str = Field(
        "",
        description="bind the ServiceAccount to this ClusterRole, e.g. cluster-monitoring-view on OpenShift; "
        "empty: bind nothing (grant access yourself)",
    )


class ClientBasicAuthValues(_Section):
    """Basic authentication towards Prometheus, from a Secret."""

    existingSecret: str = Field("", description="Secret with the user name and password; empty: no basic auth")
    usernameKey: str = Field("username", description="key of the user name in that Secret")
    passwordKey: str = Field("password", description="key of the password in that Secret")


class ClientCAValues(_Section):
    """The CA that signed Prometheus's certificate, from a ConfigMap or a Secret."""

    configMap: str = Field(
        "", description="ConfigMap holding it (kube-root-ca.crt, OpenShift's openshift-service-ca.crt)"
    )
    secret: str = Field("", description="Secret holding it (instead of a ConfigMap)")
    key: str = Field("ca.crt", description="key of the CA certificate (service-ca.crt in openshift-service-ca.crt)")


class PrometheusClientValues(_Section):
    """How the chart's Prometheus readers (the cost report) authenticate; filled into inferwatch.yaml's prometheus:."""

    serviceAccountToken: ServiceAccountTokenValues = Field(
        default_factory=ServiceAccountTokenValues, description="a bearer token of the pod's ServiceAccount"
    )
    basicAuth: ClientBasicAuthValues = Field(default_factory=ClientBasicAuthValues, description="basic auth")
    ca: ClientCAValues = Field(default_factory=ClientCAValues, description="the CA to trust")
    serverName: str = Field("", description="name Prometheus's certificate must carry, when not the URL's host")
    tenant: str = Field("", description="X-Scope-OrgID sent with every query (Grafana Mimir, Cortex); empty: none")
    headers: dict[str, str] = Field(default_factory=dict, description="other request headers (plain values only)")
