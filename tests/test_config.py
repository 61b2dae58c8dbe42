"""The typed configuration: the example loads, bad files name the field, env overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.cli import cli
from inferwatch.config import InferwatchConfig, env_overrides, load_config
from inferwatch.errors import ConfigError


def test_example_config_loads(repo_root: Path) -> None:
    cfg = load_config(repo_root / "examples" / "inferwatch.yaml", {})
    assert isinstance(cfg, InferwatchConfig)
    assert cfg.prometheus.url == "http://127.0.0.1:9090"
    assert cfg.thresholds.ttft_p95_seconds == 2.0


def test_defaults_without_file() -> None:
    cfg = load_config(None, {})
    assert cfg.exporter.port == 9400


def test_env_overrides_nested_values_with_types(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("prometheus:\n  url: http://a:9090\n")
    cfg = load_config(f, {"INFERWATCH_PROMETHEUS__URL": "http://b:9090/", "INFERWATCH_EXPORTER__PORT": "9555"})
    assert cfg.prometheus.url == "http://b:9090"
    assert cfg.exporter.port == 9555


def test_env_overrides_ignore_unrelated_variables() -> None:
    assert env_overrides({"PATH": "/bin", "INFERWATCH_CONFIG": "x.yaml", "INFERWATCH_A__B": "1"}) == {"a": {"b": 1}}


def test_bad_field_names_its_path(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("prometheus:\n  url: ftp://x\nexporter:\n  port: 70000\n  colour: red\n")
    with pytest.raises(ConfigError) as err:
        load_config(f, {})
    paths = {p.path for p in err.value.problems}
    assert paths == {"prometheus.url", "exporter.port", "exporter.colour"}
    assert str(f) in str(err.value)


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("prometheus:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_config(f, {})


@pytest.mark.parametrize(
    ("text", "field_path"),
    [
        ("thresholds:\n  kv_cache_usage_ratio: 1.5\n", "thresholds.kv_cache_usage_ratio"),
        # The message quotes the user's input verbatim, "[bold]" included (rich would take it for markup).
        ("prometheus:\n  '[bold]url': http://prom:9090\n", "prometheus.[bold]url"),
    ],
)
def test_cli_exits_2_with_field_path_on_malformed_file(tmp_path: Path, text: str, field_path: str) -> None:
    f = tmp_path / "inferwatch.yaml"
    f.write_text(text)
    result = CliRunner().invoke(cli, ["--config", str(f), "config", "check"])
    assert result.exit_code == 2
    assert field_path in result.stderr


def test_cli_config_check_ok(repo_root: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(repo_root / "examples" / "inferwatch.yaml"), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout
