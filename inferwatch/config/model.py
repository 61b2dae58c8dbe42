"""The root configuration model and its loader: inferwatch.yaml, INFERWATCH_* variables and CLI flags.

pydantic-settings merges the three sources (CLI flags over environment over file over defaults);
`load_config` is the one edge where a file is read and checked, so every command sees either a
valid configuration or a ConfigError naming the file and each offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from inferwatch.config.buckets import Engine, HistogramBuckets, is_boundary
from inferwatch.config.cost_report import CostReportSettings
from inferwatch.config.exporter import ExporterSettings
from inferwatch.config.pricing import Pricing
from inferwatch.config.prometheus import PrometheusSettings
from inferwatch.config.slo import LATENCY_KINDS, SLOSpec
from inferwatch.config.thresholds import Thresholds
from inferwatch.config.workload import WorkloadSpec
from inferwatch.config.yamlfile import display_path, read_yaml_mapping
from inferwatch.errors import ConfigError, FieldProblem

ENV_PREFIX = "INFERWATCH_"
ENV_NESTED_DELIMITER = "__"
DEFAULTS_SOURCE = "<built-in defaults>"
DEFAULT_RUNBOOK_BASE_URL = "https://github.com/inferwatch/inferwatch/blob/main/docs/runbooks"
# Labels every generated PrometheusRule carries; `rule_labels` may add others but not change these.
FIXED_RULE_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _vllm_only() -> list[Engine]:
    return ["vllm"]


class InferwatchConfig(BaseModel):
    """Everything inferwatch is told: loaded once at the entry point and passed down.

    ``source`` names the file it was loaded from (generated files' headers quote it).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    version: int = Field(1, description="schema version of this file")
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    runbook_base_url: str = Field(
        DEFAULT_RUNBOOK_BASE_URL,
        max_length=2048,
        description="base URL of the runbooks; every alert (SLO alerts included) links <base>/<AlertName>.md",
    )
    rule_labels: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="extra labels on every generated PrometheusRule (e.g. release: kube-prometheus-stack), "
        "so one ruleSelector picks up normalization, alert, SLO and cost rules",
    )
    engines: list[Engine] = Field(
        default_factory=_vllm_only,
        min_length=1,
        description="the serving engines (vllm, sglang) that run the models the SLOs judge: a latency SLO's "
        "threshold must be a bucket boundary on each (an SLO's own engines: overrides this)",
    )
    buckets: HistogramBuckets = Field(
        default_factory=HistogramBuckets,
        description="histogram boundaries of deployments started with custom buckets (vLLM's "
        "--custom-histogram-buckets, SGLang's --bucket-* flags under sglang:)",
    )
    slos: list[SLOSpec] = Field(default_factory=list, max_length=1000)
    pricing: Pricing = Field(default_factory=Pricing)
    cost_report: CostReportSettings = Field(default_factory=CostReportSettings)
    exporter: ExporterSettings = Field(default_factory=ExporterSettings)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)

    _source: str = PrivateAttr(DEFAULTS_SOURCE)

    @property
    def source(self) -> str:
        """The file this configuration was loaded from, or `<built-in defaults>`."""
        return self._source

    def with_source(self, source: str) -> InferwatchConfig:
        """This configuration, saying it was loaded from ``source``."""
        copy = self.model_copy()
        copy._source = source
        return copy

    @field_validator("version")
    @classmethod
    def _supported_version(cls, v: int) -> int:
        if v != 1:
            raise ValueError(f"unsupported version {v}; this inferwatch reads version 1")
        return v

    @field_validator("runbook_base_url")
    @classmethod
    def _runbook_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        # Annotations are Go templates: "{{" would be executed by Prometheus, not linked to.
        if any(s in v for s in ("{{", "}}", "{%", "%}")) or any(ch.isspace() or ord(ch) < 32 for ch in v):
            raise ValueError("must be a plain URL: no template syntax ({{ }}), spaces or control characters")
        return v.rstrip("/")

    @field_validator("rule_labels")
    @classmethod
    def _k8s_labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if key in FIXED_RULE_LABELS:
                raise ValueError(f"{key!r} is set by inferwatch on every PrometheusRule and cannot be overridden")
            if len(key) > 253 or not _LABEL_KEY.match(key):
                raise ValueError(f"{key!r} is not a Kubernetes label key")
            if not _LABEL_VALUE.match(value):
                raise ValueError(f"{key}: {value!r} is not a Kubernetes label value (63 characters, alphanumeric ends)")
        return v


def edge_problems(config: InferwatchConfig) -> list[FieldProblem]:
    """What the schema cannot see but every command must refuse: duplicate SLO names and latency
    thresholds that are no bucket boundary (the rule would match nothing)."""
    problems: list[FieldProblem] = []
    seen: dict[str, int] = {}
    for i, slo in enumerate(config.slos):
        if slo.name in seen:
            problems.append(
                FieldProblem(f"slos.{i}.name", f"SLO name {slo.name!r} is already used by slos.{seen[slo.name]}")
            )
        seen.setdefault(slo.name, i)
        problems += _threshold_problems(config, i)
    return problems


def _threshold_problems(config: InferwatchConfig, i: int) -> list[FieldProblem]:
    """A latency SLO's threshold must be a bucket boundary on every engine serving what it judges."""
    slo = config.slos[i]
    threshold = slo.sli.threshold_seconds
    if slo.sli.kind not in LATENCY_KINDS or threshold is None:
        return []
    problems = []
    for engine in slo.engines or config.engines:
        known = config.buckets.boundaries(slo.sli.kind, engine)
        if not is_boundary(threshold, known):
            problems.append(
                FieldProblem(
                    f"slos.{i}.sli.threshold_seconds",
                    f"SLO {slo.name!r}: {threshold:g} is not a bucket boundary of "
                    f"{config.buckets.origin(slo.sli.kind, engine)} ({', '.join(f'{b:g}' for b in known)}); the rule "
                    f"would count nothing on {engine}. Pick a boundary, or declare the deployment's "
                    f"{config.buckets.flag(slo.sli.kind, engine)}",
                )
            )
    return problems


# --- loading: file < environment < CLI flags, merged by pydantic-settings --------------------

_INPUTS: ContextVar[tuple[Mapping[str, Any], Mapping[str, str]]] = ContextVar("inferwatch_config_inputs")


class _EnvironSource(EnvSettingsSource):
    """INFERWATCH_* variables of the mapping the CLI passed down (never os.environ read here)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _Settings(InferwatchConfig, BaseSettings):
    """InferwatchConfig as pydantic-settings builds it from the file, the environment and CLI flags."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
        extra="forbid",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_data, environ = _INPUTS.get()
        return (init_settings, _EnvironSource(settings_cls, environ), InitSettingsSource(settings_cls, dict(file_data)))


def _problems(err: ValidationError) -> list[FieldProblem]:
    problems = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        problems.append(FieldProblem(path, str(e["msg"]).removeprefix("Value error, ")))
    return problems


def parse_config(
    data: Any,
    source: str,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> InferwatchConfig:
    """Validate already-parsed YAML data, INFERWATCH_* variables of ``environ`` and CLI ``overrides``.

    Raises ConfigError naming ``source`` and each offending field's dotted path.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [FieldProblem("", f"top level must be a mapping, not {type(data).__name__}")])
    token = _INPUTS.set((data, environ or {}))
    try:
        loaded = _Settings(**dict(overrides or {}))
    except ValidationError as err:
        raise ConfigError(source, _problems(err)) from None
    except SettingsError as err:
        raise ConfigError(source, [FieldProblem("environment", str(err))]) from None
    finally:
        _INPUTS.reset(token)
    config = InferwatchConfig.model_construct(**{name: getattr(loaded, name) for name in InferwatchConfig.model_fields})
    problems = edge_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config.with_source(source)


def load_config(
    path: Path | None, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> InferwatchConfig:
    """Load ``path`` (or defaults when None), apply environment and CLI overrides, and validate.

    Raises ConfigError naming the file, each offending field's dotted path and the problem.
    """
    if path is None:
        return parse_config({}, DEFAULTS_SOURCE, environ, overrides)
    source = display_path(path)
    return parse_config(read_yaml_mapping(path, source), source, environ, overrides)
