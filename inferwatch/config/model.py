"""The root configuration model and its loader: inferwatch.yaml plus INFERWATCH_* environment overrides."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inferwatch.config.exporter import ExporterSettings
from inferwatch.config.pricing import Pricing
from inferwatch.config.slo import SLOSpec
from inferwatch.config.thresholds import Thresholds
from inferwatch.config.workload import WorkloadSpec
from inferwatch.errors import ConfigError, FieldProblem

ENV_PREFIX = "INFERWATCH_"
ENV_NESTED_DELIMITER = "__"


class PrometheusSettings(BaseModel):
    """Where inferwatch's CLI reads aggregated results from."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field("http://127.0.0.1:9090", description="base URL of Prometheus (or a compatible API)")
    timeout_s: float = Field(10.0, gt=0, le=300, description="timeout of one query")
    retries: int = Field(3, ge=0, le=10, description="retries of a failed query before giving up")
    retry_backoff_s: float = Field(0.5, ge=0, le=30, description="first back-off between retries (doubles)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class InferwatchConfig(BaseModel):
    """Everything inferwatch is told: loaded once at the entry point and passed down."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, description="schema version of this file")
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    slos: list[SLOSpec] = Field(default_factory=list)
    pricing: Pricing = Field(default_factory=Pricing)
    exporter: ExporterSettings = Field(default_factory=ExporterSettings)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)

    @field_validator("version")
    @classmethod
    def _supported_version(cls, v: int) -> int:
        if v != 1:
            raise ValueError(f"unsupported version {v}; this inferwatch reads version 1")
        return v

    @model_validator(mode="after")
    def _unique_slo_names(self) -> InferwatchConfig:
        seen: set[str] = set()
        for slo in self.slos:
            if slo.name in seen:
                raise ValueError(f"SLO name {slo.name!r} is used twice; names must be unique")
            seen.add(slo.name)
        return self


def _set_path(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``INFERWATCH_PROMETHEUS__URL=…`` style variables into a nested dict of overrides.

    Values are parsed as YAML scalars/collections so ``INFERWATCH_EXPORTER__PORT=9500`` is an int
    and ``INFERWATCH_EXPORTER__GPU_UUIDS='[GPU-a, GPU-b]'`` a list.
    """
    overrides: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or ENV_NESTED_DELIMITER not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split(ENV_NESTED_DELIMITER)]
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        _set_path(overrides, keys, value)
    return overrides


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _problems(err: ValidationError) -> list[FieldProblem]:
    problems = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        problems.append(FieldProblem(path, e["msg"]))
    return problems


def parse_config(data: Any, source: str, environ: Mapping[str, str] | None = None) -> InferwatchConfig:
    """Validate already-parsed YAML data (plus environment overrides) into the config model."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [FieldProblem("", f"top level must be a mapping, not {type(data).__name__}")])
    merged = _merge(data, env_overrides(environ or {}))
    try:
        return InferwatchConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(source, _problems(err)) from None


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> InferwatchConfig:
    """Load ``path`` (or defaults when None), apply environment overrides and validate.

    Raises ConfigError naming each offending field's dotted path and the problem.
    """
    if path is None:
        return parse_config({}, "<defaults>", environ)
    source = str(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(source, [FieldProblem("", f"cannot read file: {err.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            source, [FieldProblem("", f"{where}not valid YAML: {getattr(err, 'problem', err)}")]
        ) from None
    return parse_config(data, source, environ)
