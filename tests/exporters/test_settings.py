"""The sidecar's own settings loader (issue 23) gives what the loader of every command gives.

`light_exporter_settings` reads a file holding only `exporter:`, the `INFERWATCH_EXPORTER__*`
variables and the flags without pydantic-settings; the reference is `load_config(...).exporter`
on the same input: the same settings, or the same ConfigError (file and field paths, messages).
Anything else it hands back (None) to that loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferwatch.config import ExporterSettings, InferwatchConfig, load_config
from inferwatch.config.exporter import CONFIG_SECTIONS, light_exporter_settings
from inferwatch.errors import ConfigError

SIDECAR_ENV = {
    "INFERWATCH_EXPORTER__VLLM_URL": "http://127.0.0.1:8000/metrics",
    "INFERWATCH_EXPORTER__POD_NAME": "vllm-0",
    "INFERWATCH_EXPORTER__POD_NAMESPACE": "serving",
    "INFERWATCH_EXPORTER__CONTAINER_NAME": "vllm",
    "INFERWATCH_CONFIG": "/nowhere.yaml",  # read by the CLI, no setting
    "INFERWATCH_LOG_LEVEL": "info",
    "PATH": "/usr/bin",
}

# (file text or None, environment, flags)
Case = tuple[str | None, dict[str, str], dict[str, Any]]
SAME: dict[str, Case] = {
    "defaults": (None, {}, {}),
    "a sidecar's environment": (None, SIDECAR_ENV, {}),
    "flags over the environment": (None, {**SIDECAR_ENV, "INFERWATCH_EXPORTER__PORT": "9500"}, {"port": 9600}),
    "variables in lower case": (None, {"inferwatch_exporter__sample_interval_s": "0.5"}, {}),
    "environment over the file": (
        "version: 1\nexporter:\n  port: 9401\n  vllm_scrape_interval_s: 2\n  gpu_uuids: [GPU-a]\n",
        {"INFERWATCH_EXPORTER__PORT": "9402", "INFERWATCH_EXPORTER__VLLM_TLS_VERIFY": "false"},
        {"mode": "sidecar"},
    ),
    "an empty file": ("", {}, {"gpu_uuids": ["GPU-b"]}),
}
ERRORS: dict[str, Case] = {
    "a port that is no number": (None, {"INFERWATCH_EXPORTER__PORT": "ninety"}, {}),
    "an empty URL": (None, {"INFERWATCH_EXPORTER__VLLM_URL": ""}, {}),
    "a flag's URL": (None, {}, {"vllm_url": "ftp://x"}),
    "fields of the file": ("exporter:\n  port: 0\n  sample_interval_s: -1\n  colour: red\n", {}, {}),
    "not YAML": ("exporter: [\n", {}, {}),
}
FULL_LOADER: dict[str, Case] = {
    "another section in the file": ("exporter: {}\nslos: []\n", {}, {}),
    "another version": ("version: 2\nexporter: {}\n", {}, {}),
    "a section that is no mapping": ("exporter: 3\n", {}, {}),
    "a top level that is no mapping": ("- exporter\n", {}, {}),
    "another section's variable": (None, {"INFERWATCH_PROMETHEUS__URL": "http://p:9090"}, {}),
    "the whole section as JSON": (None, {"INFERWATCH_EXPORTER": '{"port": 9500}'}, {}),
    "a list from the environment": (None, {"INFERWATCH_EXPORTER__GPU_UUIDS": '["GPU-a"]'}, {}),
    "an unknown exporter variable": (None, {"INFERWATCH_EXPORTER__COLOUR": "red"}, {}),
}


def _inputs(tmp_path: Path, case: Case) -> tuple[Path | None, dict[str, str], dict[str, Any]]:
    text, environ, flags = case
    path = None
    if text is not None:
        path = tmp_path / "inferwatch.yaml"
        path.write_text(text)
    return path, environ, flags


@pytest.mark.parametrize("name", SAME)
def test_the_same_settings_as_the_full_loader(name: str, tmp_path: Path) -> None:
    path, environ, flags = _inputs(tmp_path, SAME[name])
    light = light_exporter_settings(path, environ, flags)
    assert isinstance(light, ExporterSettings)
    assert light == load_config(path, environ, {"exporter": flags}).exporter


@pytest.mark.parametrize("name", ERRORS)
def test_the_same_error_as_the_full_loader(name: str, tmp_path: Path) -> None:
    path, environ, flags = _inputs(tmp_path, ERRORS[name])
    with pytest.raises(ConfigError) as light:
        light_exporter_settings(path, environ, flags)
    with pytest.raises(ConfigError) as full:
        load_config(path, environ, {"exporter": flags})
    assert (light.value.source, light.value.problems) == (full.value.source, full.value.problems)
    assert all(p.path.startswith("exporter.") or p.path == "" for p in light.value.problems)


@pytest.mark.parametrize("name", FULL_LOADER)
def test_anything_else_is_left_to_the_full_loader(name: str, tmp_path: Path) -> None:
    path, environ, flags = _inputs(tmp_path, FULL_LOADER[name])
    assert light_exporter_settings(path, environ, flags) is None


def test_the_sections_it_knows_are_the_configurations() -> None:
    assert set(InferwatchConfig.model_fields) == CONFIG_SECTIONS
