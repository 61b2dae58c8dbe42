"""A throwaway Kubernetes control plane on loopback: kine, kube-apiserver, kube-controller-manager,
prometheus-operator, each a real binary from .tools/bin (scripts/install-k8s-tools.sh), no Docker,
no kubelet.

    cluster = KubeCluster.start(group, tools, workdir)      # kine + kube-apiserver, /readyz ok (~3-7 s)
    cluster.install_crds(cluster_crd_files(tools))          # the CRDs we depend on, Established
    cluster.start_controller_manager()                      # default ServiceAccounts, DaemonSet pods
    cluster.start_prometheus_operator()                     # needs its CRDs first: it exits without
    client = cluster.client()                               # lightkube, admin (system:masters)

Every process runs in the caller's `ProcessGroup`, so stopping the group stops the control plane
(nothing is left running; kine's SQLite file and the certificates live in ``workdir``).

Traps this module handles (measured on v1.37.2, kine v0.17.5, prometheus-operator v0.85.0):
- kine listens on 0.0.0.0 (2379 and a metrics port 8080) unless told otherwise: always loopback.
- kube-apiserver on loopback needs ``--endpoint-reconciler-type=none`` (it refuses 127.0.0.1 as the
  `kubernetes` Service's endpoint) and a service range holding the serving certificate's IP.
- kube-controller-manager v1.37 takes the long controller names; node IPAM (no pod CIDR), node
  lifecycle and taint eviction are off: fake nodes never renew their Lease, and those controllers
  would mark them NotReady after ~40 s and evict their pods.
- prometheus-operator exits at start when none of its CRDs exist ("no controller can be started").
- ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` in the environment override a client's CA choice: every
  client here is built with ``trust_env=False``. PyYAML cannot load prometheus-operator's
  alertmanagerconfigs CRD (an enum value ``=``): CRDs are sent as the raw file.
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from lightkube import Client, KubeConfig

from inferwatch.localstack.ports import free_port, port_free
from inferwatch.localstack.processes import LocalStackError, ManagedProcess, ProcessGroup, wait_for
from inferwatch.reference import crd_files
from inferwatch.tools import Toolbox

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service's ClusterIP: a SAN of the serving certificate
ADMISSION_PLUGINS = "NamespaceLifecycle,ServiceAccount,PodSecurity,LimitRanger,ResourceQuota,Priority"
# kube-controller-manager v1.37's names; see the module docstring for why these three are off.
CONTROLLERS = "*,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller"
FIELD_MANAGER = "inferwatch-localstack"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# GKE's way of keeping the node- and cluster-critical priority classes in kube-system: pods of those
# classes are admitted only in a namespace whose ResourceQuota covers them (pass as `admission_config`).
GKE_LIKE_ADMISSION = {
    "apiVersion": "apiserver.config.k8s.io/v1",
    "kind": "AdmissionConfiguration",
    "plugins": [
        {
            "name": "ResourceQuota",
            "configuration": {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "ResourceQuotaConfiguration",
                "limitedResources": [
                    {
                        "resource": "pods",
                        "matchScopes": [
                            {
                                "scopeName": "PriorityClass",
                                "operator": "In",
                                "values": ["system-node-critical", "system-cluster-critical"],
                            }
                        ],
                    }
                ],
            },
        }
    ],
}


class KubeClusterError(LocalStackError):
    """The control plane could not be set up (a certificate, a CRD, an API call)."""


def _openssl(cwd: Path, *args: str) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KubeClusterError(f"openssl {args[0]} failed: {proc.stderr.strip()}")


@dataclass(frozen=True)
class Pki:
    """Throwaway certificates (valid one day): a CA, the API server's serving certificate, an admin
    client certificate (``O=system:masters``) and the service-account signing key pair."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @classmethod
    def make(cls, d: Path) -> Pki:
        d.mkdir(parents=True, exist_ok=True)
        rsa = ("-newkey", "rsa:2048", "-nodes")
        _openssl(d, "req", "-x509", *rsa, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca")
        dns = (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
        sans = ",".join(["IP:127.0.0.1", f"IP:{SERVICE_IP}", *(f"DNS:{name}" for name in dns)])
        usage = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        (d / "serving.ext").write_text(f"{usage}extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")
        (d / "client.ext").write_text(f"{usage}extendedKeyUsage=clientAuth\n")
        for name, subject, ext in (
            ("apiserver", "/CN=kube-apiserver", "serving.ext"),
            ("admin", "/O=system:masters/CN=inferwatch-admin", "client.ext"),
        ):
            _openssl(d, "req", *rsa, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
            _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "1", "-extfile", ext, "-out", f"{name}.crt")  # fmt: skip
        _openssl(d, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key")
        _openssl(d, "pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        return cls(d)


def _environment() -> dict[str, str]:
    """The environment for the control plane's processes: no proxies (everything is on loopback)."""
    return {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}


def operator_crd_dir(tools: Toolbox) -> Path:
    """prometheus-operator's own CRDs, installed beside its binary by install-k8s-tools.sh."""
    return tools.path("prometheus-operator").parent.parent / "share" / "prometheus-operator-crds"


def cluster_crd_files(tools: Toolbox | None = None) -> list[Path]:
    """The CRDs inferwatch's objects depend on: the bundled prometheus-operator, KServe and KEDA ones
    (what `inferwatch build` validates against), plus, with ``tools``, the operator's other kinds
    (Prometheus, Alertmanager, ...) from its own release, which the operator needs to run."""
    bundled = crd_files()
    if tools is None:
        return bundled
    names = {f.name for f in bundled}
    return bundled + sorted(f for f in operator_crd_dir(tools).glob("*.yaml") if f.name not in names)


@dataclass
class KubeCluster:
    """A running kube-apiserver on kine, reachable as admin through `api` and `client`."""

    group: ProcessGroup
    tools: Toolbox
    workdir: Path
    pki: Pki
    port: int = 0
    apiserver: ManagedProcess | None = None
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        """An admin kubeconfig (helm's ``--kubeconfig``, Prometheus's ``kubeconfig_file``)."""
        return self.workdir / "kubeconfig"

    @classmethod
    def start(
        cls,
        group: ProcessGroup,
        tools: Toolbox,
        workdir: Path,
        *,
        admission_config: Mapping[str, Any] | None = None,
        timeout: float = 90.0,
    ) -> KubeCluster:
        """kine and kube-apiserver in ``group``, ready (``/readyz``: RBAC bootstrapped, default
        namespaces made) when returned. ``admission_config``: an AdmissionConfiguration, e.g.
        `GKE_LIKE_ADMISSION`."""
        workdir.mkdir(parents=True, exist_ok=True)
        cluster = cls(group, tools, workdir, Pki.make(workdir / "pki"))
        kine_port = cluster._start_kine(timeout)
        cluster._start_apiserver(kine_port, admission_config, timeout)
        cluster._write_kubeconfig()
        return cluster

    def _start_kine(self, timeout: float) -> int:
        port = free_port()
        db = self.workdir / "kine" / "state.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.tools.path("kine")),
            f"--listen-address=127.0.0.1:{port}",
            "--metrics-bind-address=0",  # else it also listens on 0.0.0.0:8080
            f"--endpoint=sqlite://{db}?_journal=WAL&cache=shared&_busy_timeout=30000",
        ]
        mp = self.group.spawn("kine", argv, f"http://127.0.0.1:{port}", env=_environment())
        wait_for(lambda: not port_free(port), "kine's port accepts", timeout=timeout, watch=[mp])
        return port

    def _start_apiserver(self, kine_port: int, admission_config: Mapping[str, Any] | None, timeout: float) -> None:
        self.port = free_port()
        pki = self.pki
        argv = [
            str(self.tools.path("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{kine_port}",
            f"--secure-port={self.port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",  # required on loopback
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.cert('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.ca}",
            f"--service-account-key-file={pki.dir / 'sa.pub'}",
            f"--service-account-signing-key-file={pki.dir / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            f"--enable-admission-plugins={ADMISSION_PLUGINS}",
            "--allow-privileged=true",
            "--profiling=false",
        ]
        if admission_config is not None:
            path = self.workdir / "admission.json"
            path.write_text(json.dumps(admission_config, indent=1))
            argv.append(f"--admission-control-config-file={path}")
        self.apiserver = self.group.spawn("kube-apiserver", argv, self.url, env=_environment())
        wait_for(lambda: self.api("GET", "/readyz").status_code == 200, "/readyz answers 200", timeout=timeout,
                 interval=0.25, watch=[self.apiserver])  # fmt: skip

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url, "certificate-authority": str(self.pki.ca)}}],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(self.pki.cert("admin")),
                        "client-key": str(self.pki.key("admin")),
                    },
                }
            ],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
        }
        self.kubeconfig.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
        self.kubeconfig.chmod(0o600)

    # ---- talking to it -------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """The cluster's CA and the admin client certificate (the environment's CA settings ignored)."""
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        ctx.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        return ctx

    def api(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> httpx.Response:
        """One raw request as admin (e.g. a CRD file as it is, or a path no typed client knows)."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, verify=self.ssl_context(), trust_env=False, timeout=60)
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        return self._http.request(method, path, content=body, headers=headers)

    def client(self, *, namespace: str | None = None, dry_run: bool = False) -> Client:
        """A lightkube client as admin (server-side apply as `FIELD_MANAGER`)."""
        config = KubeConfig.from_file(self.kubeconfig)
        return Client(config, namespace=namespace, field_manager=FIELD_MANAGER, trust_env=False, dry_run=dry_run)

    def version(self) -> str:
        """The API server's gitVersion, e.g. ``v1.37.2``."""
        return str(self.api("GET", "/version").json()["gitVersion"])

    def install_crds(self, files: Iterable[Path], *, timeout: float = 120.0) -> list[str]:
        """Create every CRD file (sent as it is: YAML or JSON) and wait until each is Established."""
        names = []
        for f in files:
            kind = "application/json" if f.suffix == ".json" else "application/yaml"
            resp = self.api("POST", CRD_PATH, f.read_bytes(), kind)
            if resp.status_code == 409:  # already there
                group, _, plural = f.stem.partition("_")
                names.append(f"{plural}.{group}")
                continue
            if resp.status_code != 201:
                raise KubeClusterError(f"CRD {f.name} refused ({resp.status_code}): {resp.text[:800]}")
            names.append(resp.json()["metadata"]["name"])
        watch = [self.apiserver] if self.apiserver else []
        for name in names:
            established = functools.partial(self._established, name)
            wait_for(established, f"CRD {name} Established", timeout=timeout, interval=0.2, watch=watch)
        return names

    def _established(self, name: str) -> bool:
        resp = self.api("GET", f"{CRD_PATH}/{name}")
        conditions = resp.json().get("status", {}).get("conditions", []) if resp.status_code == 200 else []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    # ---- controllers -------------------------------------------------------------------------
    def start_controller_manager(self, *, timeout: float = 90.0) -> ManagedProcess:
        """kube-controller-manager: `default` ServiceAccounts, tokens, DaemonSet/ReplicaSet/Job pods
        (Pod Security Admission then judges the pods it creates), garbage collection."""
        argv = [
            str(self.tools.path("kube-controller-manager")),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            "--leader-elect=false",
            f"--service-account-private-key-file={self.pki.dir / 'sa.key'}",
            f"--root-ca-file={self.pki.ca}",
            "--use-service-account-credentials=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--controllers={CONTROLLERS}",
            "--concurrent-daemonset-syncs=2",
            "--profiling=false",
        ]
        mp = self.group.spawn("kube-controller-manager", argv, env=_environment())
        path = "/api/v1/namespaces/default/serviceaccounts/default"
        wait_for(lambda: self.api("GET", path).status_code == 200, "the default ServiceAccount", timeout=timeout,
                 interval=0.25, watch=[mp])  # fmt: skip
        return mp

    def start_prometheus_operator(self, *, extra_args: Sequence[str] = (), timeout: float = 90.0) -> ManagedProcess:
        """prometheus-operator (its CRDs must exist: `install_crds` first), ready when its web port answers."""
        port = free_port()
        argv = [
            str(self.tools.path("prometheus-operator")),
            f"--apiserver={self.url}",  # v0.85.0 has no --kubeconfig flag
            f"--ca-file={self.pki.ca}",
            f"--cert-file={self.pki.cert('admin')}",
            f"--key-file={self.pki.key('admin')}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra_args,
        ]
        mp = self.group.spawn("prometheus-operator", argv, f"http://127.0.0.1:{port}", env=_environment())
        wait_for(lambda: httpx.get(f"{mp.url}/healthz", timeout=2).status_code == 200, "/healthz answers 200",
                 timeout=timeout, watch=[mp])  # fmt: skip
        return mp

    def close(self) -> None:
        """Close the HTTP connection (the processes belong to the group)."""
        if self._http is not None:
            self._http.close()
            self._http = None
