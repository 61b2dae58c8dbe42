"""The inferwatch exporter as a container of a vLLM pod, built from the settings model it reads.

The exporter takes its settings from `INFERWATCH_EXPORTER__<FIELD>` variables (see
inferwatch.config.model.env_overrides) on top of its defaults. Every variable written here is
named after a field of `ExporterSettings` and holds that field's value in the form the loader
parses back, so a renamed or retyped setting fails `inferwatch build` instead of leaving a
manifest behind. Pod name and namespace come from the downward API; the rest is a literal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inferwatch.config import ExporterSettings, InferwatchConfig
from inferwatch.config.model import ENV_NESTED_DELIMITER, ENV_PREFIX
from inferwatch.config.workload import SidecarWebSpec

SIDECAR_CONTAINER = "inferwatch-exporter"
# Pods carrying the sidecar wear this label; the Helm chart's PodMonitor selects it.
SIDECAR_LABEL = "inferwatch.io/sidecar"
# The sidecar's metrics port name; the chart's PodMonitor (podMonitor.portName) scrapes it.
METRICS_PORT_NAME = "iw-metrics"
EXPORTER_COMMAND: tuple[str, ...] = ("inferwatch",)
EXPORTER_ARGS: tuple[str, ...] = ("exporter", "run", "--log-format", "json")
# The root config field whose variables the exporter reads (INFERWATCH_EXPORTER__…).
SETTINGS_SECTION = "exporter"
# Settings the kubelet fills in from the downward API, by the pod field they read.
DOWNWARD_FIELDS: dict[str, str] = {"pod_name": "metadata.name", "pod_namespace": "metadata.namespace"}


class SettingNameError(KeyError):
    """A manifest names an exporter setting that ExporterSettings does not have."""


@dataclass(frozen=True)
class CaBundle:
    """A CA certificate for the vLLM endpoint, from a Secret, mounted into the sidecar."""

    volume: str
    secret: str
    key: str
    mount_path: str

    @property
    def file(self) -> str:
        """Path of the CA file inside the sidecar (the `vllm_ca_file` setting)."""
        return f"{self.mount_path}/{self.key}"

    def volume_spec(self) -> dict[str, Any]:
        """The pod volume holding only the CA certificate of the Secret."""
        return {
            "name": self.volume,
            "secret": {"secretName": self.secret, "items": [{"key": self.key, "path": self.key}]},
        }


@dataclass(frozen=True)
class WebSecret:
    """The sidecar's web configuration file and the files it names, one Secret mounted as a folder."""

    spec: SidecarWebSpec
    volume: str = "inferwatch-web"
    mount_path: str = "/etc/inferwatch-web"

    @property
    def file(self) -> str:
        """Path of the web configuration inside the sidecar (the `web_config_file` setting)."""
        return f"{self.mount_path}/{self.spec.config_key}"

    def volume_spec(self) -> dict[str, Any]:
        """The pod volume of the Secret (every key: the file names its certificate by relative path)."""
        return {"name": self.volume, "secret": {"secretName": self.spec.secret}}


def sidecar_web(config: InferwatchConfig) -> WebSecret | None:
    """The sidecars' web configuration of `config`, or None when they serve plain HTTP."""
    spec = config.workload.sidecar_web
    return WebSecret(spec) if spec.secret else None


def web_endpoint(config: InferwatchConfig) -> dict[str, Any]:
    """PodMonitor endpoint settings matching the sidecars' web configuration (empty without one)."""
    spec = config.workload.sidecar_web
    if not spec.secret:
        return {}
    out: dict[str, Any] = {}
    if spec.tls:
        tls: dict[str, Any] = {"ca": {"secret": {"name": spec.secret, "key": spec.ca_key}}}
        if spec.server_name:
            tls["serverName"] = spec.server_name
        out |= {"scheme": "https", "tlsConfig": tls}
    if spec.basic_auth_secret:
        out["basicAuth"] = {
            "username": {"name": spec.basic_auth_secret, "key": "username"},
            "password": {"name": spec.basic_auth_secret, "key": "password"},
        }
    return out


def env_name(field: str) -> str:
    """The variable that sets exporter setting `field`; SettingNameError if there is no such setting."""
    if SETTINGS_SECTION not in InferwatchConfig.model_fields:
        raise SettingNameError(f"the config has no {SETTINGS_SECTION!r} section")
    if field not in ExporterSettings.model_fields:
        raise SettingNameError(f"ExporterSettings has no setting {field!r}")
    return f"{ENV_PREFIX}{SETTINGS_SECTION.upper()}{ENV_NESTED_DELIMITER}{field.upper()}"


def env_value(value: Any) -> str:
    """`value` as the text the config loader parses back to it: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def sidecar_settings(
    config: InferwatchConfig, *, vllm_url: str, container_name: str, ca: CaBundle | None = None
) -> ExporterSettings:
    """The sidecar's settings: the config's `exporter:` section, in sidecar mode, reading `vllm_url`.

    Pod name and namespace stay empty here: the kubelet fills them in (DOWNWARD_FIELDS).
    """
    data = config.exporter.model_dump()
    web = sidecar_web(config)
    data.update(
        mode="sidecar",
        vllm_url=vllm_url,
        container_name=container_name,
        vllm_ca_file=ca.file if ca is not None else None,
        web_config_file=web.file if web is not None else None,
        **dict.fromkeys(DOWNWARD_FIELDS, ""),
    )
    return ExporterSettings.model_validate(data)


def sidecar_env(settings: ExporterSettings, *, shares_gpu_claim: bool = False) -> list[dict[str, Any]]:
    """Environment of the sidecar: every setting that differs from its default, plus the downward API.

    `shares_gpu_claim`: the sidecar lists the pod's DRA GPU claim, whose driver gives it the pod's
    GPUs and NVML, so it must not ask the NVIDIA runtime for every GPU of the node.
    """
    defaults = ExporterSettings()
    env: list[dict[str, Any]] = []
    for field in ExporterSettings.model_fields:
        value = getattr(settings, field)
        if field in DOWNWARD_FIELDS or value == getattr(defaults, field):
            continue
        env.append({"name": env_name(field), "value": env_value(value)})
    for field, path in DOWNWARD_FIELDS.items():
        env.append({"name": env_name(field), "valueFrom": {"fieldRef": {"fieldPath": path}}})
    if settings.gpu_backend == "nvml" and not shares_gpu_claim:
        # NVML needs the driver's utility library, which the NVIDIA runtime injects only into
        # containers asking for it; the sidecar requests no GPU of its own.
        env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"})
        env.append({"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"})
    return env


def sidecar_container(
    settings: ExporterSettings,
    image: str,
    *,
    native: bool,
    ca: CaBundle | None = None,
    gpu_claims: list[dict[str, Any]] | None = None,
    web: WebSecret | None = None,
) -> dict[str, Any]:
    """The exporter container; `native` makes it a Kubernetes ≥ 1.29 sidecar (init container that keeps running).

    `gpu_claims` (resources.claims of a DRA pod) gives the sidecar the same GPUs as vLLM. `web`
    mounts the web configuration (the settings name its file); its probes need no credentials.
    """
    probe_port = METRICS_PORT_NAME
    scheme = {"scheme": "HTTPS"} if web is not None and web.spec.tls else {}
    container: dict[str, Any] = {"name": SIDECAR_CONTAINER, "image": image}
    if native:
        container["restartPolicy"] = "Always"
    container |= {
        "command": list(EXPORTER_COMMAND),
        "args": list(EXPORTER_ARGS),
        "env": sidecar_env(settings, shares_gpu_claim=gpu_claims is not None),
        "ports": [{"name": METRICS_PORT_NAME, "containerPort": settings.port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": probe_port, **scheme}, "periodSeconds": 10},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": probe_port, **scheme},
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"memory": "256Mi"},
            **({"claims": gpu_claims} if gpu_claims is not None else {}),
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    mounts = [(v.volume, v.mount_path) for v in (ca, web) if v is not None]
    if mounts:
        container["volumeMounts"] = [{"name": n, "mountPath": p, "readOnly": True} for n, p in mounts]
    return container
