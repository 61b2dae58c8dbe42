"""Exporter settings: the `exporter:` section of inferwatch.yaml (also set by CLI flags / env)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inferwatch.errors import ConfigError, FieldProblem


class ExporterSettings(BaseModel):
    """How the exporter samples GPUs and vLLM and where it serves /metrics."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["sidecar", "daemonset"] = Field("sidecar", description="sidecar in a vLLM pod, or per-node DaemonSet")
    listen_host: str = Field("0.0.0.0", description="address the HTTP server binds")
    port: int = Field(9400, ge=1, le=65535, description="port of /metrics, /healthz, /readyz")
    gpu_backend: Literal["nvml", "simulated"] = Field(
        "nvml", description="nvml reads real GPUs; simulated must be asked for explicitly (demo, CI)"
    )
    sample_interval_s: float = Field(1.0, gt=0, le=60, description="fast NVML reads cadence")
    slow_sample_interval_s: float = Field(10.0, gt=0, le=600, description="energy/ECC/PCIe counters cadence")
    vllm_url: str | None = Field(None, description="vLLM /metrics URL (sidecar mode)")
    vllm_scrape_interval_s: float = Field(
        5.0, gt=0, le=300, description="how often the vLLM endpoint is scraped in the background"
    )
    vllm_timeout_s: float = Field(3.0, gt=0, le=60, description="time limit of one vLLM scrape, body included")
    vllm_max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="a larger vLLM /metrics body is refused (inferwatch_vllm_up 0)"
    )
    vllm_tls_verify: bool = Field(True, description="verify the vLLM endpoint's TLS certificate (https URLs)")
    vllm_ca_file: str | None = Field(None, description="CA bundle that signed the vLLM certificate (https URLs)")
    gpu_uuids: list[str] | None = Field(
        None, description="sidecar: the pod's GPU UUIDs; unset means every GPU NVML shows the container"
    )
    pod_namespace: str = Field("", description="sidecar: namespace of this pod (downward API), for attribution")
    pod_name: str = Field("", description="sidecar: name of this pod (downward API), for attribution")
    container_name: str = Field("", description="sidecar: the vLLM container whose GPUs are attributed")
    pod_resources_socket: str = Field(
        "/var/lib/kubelet/pod-resources/kubelet.sock",
        description="daemonset: kubelet pod-resources v1 socket; mount its directory so a kubelet restart is survived",
    )
    pod_resources_refresh_s: float = Field(
        10.0, gt=0, le=600, description="daemonset: how often GPU assignments are re-read from the kubelet"
    )
    pod_resources_timeout_s: float = Field(5.0, gt=0, le=60, description="daemonset: time limit of one kubelet call")
    web_config_file: str | None = Field(
        None,
        description="web configuration file of exporter-toolkit (--web.config.file: TLS, client certificates, "
        "basic_auth_users with bcrypt hashes), the same file node-exporter reads; /healthz and /readyz stay "
        "open to the kubelet's probes",
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP metrics endpoint (e.g. http://collector:4318/v1/metrics); unset: no push"
    )
    otlp_interval_s: float = Field(30.0, gt=0, le=3600, description="how often metrics are pushed over OTLP")
    simulated_gpus: int = Field(2, ge=1, le=64, description="number of fake GPUs of the simulated backend")
    simulated_nvml_latencies: bool = Field(
        True,
        description="simulated backend: each NVML call takes as long as on an H100 (docs/benchmarks.md), so the demo "
        "and the benchmark load the exporter as a real GPU would",
    )

    @field_validator("vllm_url", "otlp_endpoint")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


# --- the sidecar's own loader: its section alone, without pydantic-settings (issue 23) ------------

# The top-level fields of InferwatchConfig (inferwatch.config.model); a test holds the two equal.
CONFIG_SECTIONS = frozenset(
    {"version", "prometheus", "thresholds", "runbook_base_url", "rule_labels", "engines", "buckets", "slos",
     "pricing", "cost_report", "exporter", "workload"}
)  # fmt: skip
_ENV_PREFIX = "INFERWATCH_"
_DEFAULTS_SOURCE = "<built-in defaults>"


def _exporter_environ(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The `INFERWATCH_EXPORTER__<FIELD>` variables of `environ` by field, or None when another variable
    would set a setting (another section, a whole section as JSON, a list) and the full loader must read it."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        name = key.lower()
        if not name.startswith(_ENV_PREFIX.lower()):
            continue
        section, nested, field = name[len(_ENV_PREFIX) :].partition("__")
        if section not in CONFIG_SECTIONS:
            continue  # no setting (INFERWATCH_CONFIG, INFERWATCH_LOG_LEVEL): pydantic-settings ignores it too
        if section != "exporter" or not nested or field not in _ENV_SCALARS or field in out:
            return None
        out[field] = value
    return out


def light_exporter_settings(
    path: Path | None, environ: Mapping[str, str], flags: Mapping[str, Any]
) -> ExporterSettings | None:
    """The exporter settings from a file holding only `exporter:` (and `version: 1`), the
    `INFERWATCH_EXPORTER__*` variables and the CLI `flags`, in that order of precedence, validated by
    plain pydantic; None when anything else is given and the full loader (`load_config`) must read it.

    What it returns, and each error (ConfigError naming the file and `exporter.<field>`), is what
    `load_config(path, environ, {"exporter": flags}).exporter` gives for the same input (tested); it
    spares a sidecar pydantic-settings and the models of the sections it does not read (~12 MB).
    """
    env = _exporter_environ(environ)
    if env is None:
        return None
    data: Any = {}
    source = _DEFAULTS_SOURCE
    if path is not None:
        # Imported here: a sidecar configured by its environment alone never loads PyYAML.
        from inferwatch.config.yamlfile import display_path, read_yaml_mapping

        source = display_path(path)
        data = read_yaml_mapping(path, source)
    data = {} if data is None else data
    if not isinstance(data, dict) or not set(data) <= {"exporter", "version"}:
        return None
    if "version" in data and not (type(data["version"]) is int and data["version"] == 1):
        return None
    section = data.get("exporter", {})
    if not isinstance(section, dict):
        return None
    merged = {**section, **env, **{k: v for k, v in flags.items() if v is not None}}
    try:
        return ExporterSettings.model_validate(merged)
    except ValidationError as err:
        problems = [
            FieldProblem(".".join(["exporter", *map(str, e["loc"])]), str(e["msg"]).removeprefix("Value error, "))
            for e in err.errors()
        ]
        raise ConfigError(source, problems) from None


# Fields an environment variable sets as a plain string (a list is read as JSON by pydantic-settings).
_ENV_SCALARS = frozenset(name for name in ExporterSettings.model_fields if name != "gpu_uuids")
