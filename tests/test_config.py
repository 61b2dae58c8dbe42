"""The typed configuration: the example loads; file < INFERWATCH_* < CLI flags through pydantic-settings;
every bad input ends in exit 2 naming the file and the field (or the byte, line or column), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.app.context import AppContext
from inferwatch.config import InferwatchConfig, load_config
from inferwatch.config.yamlfile import MAX_CONFIG_BYTES, MAX_NESTING
from inferwatch.errors import ConfigError


def test_example_config_loads(repo_root: Path) -> None:
    cfg = load_config(repo_root / "examples" / "inferwatch.yaml", {})
    assert isinstance(cfg, InferwatchConfig)
    assert cfg.prometheus.url == "http://127.0.0.1:9090"
    assert cfg.thresholds.ttft_p95_seconds == 2.0
    assert cfg.source.endswith("examples/inferwatch.yaml")


def test_defaults_without_file() -> None:
    cfg = load_config(None, {})
    assert cfg.exporter.port == 9400
    assert cfg.source == "<built-in defaults>"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("prometheus:\n  url: http://a:9090\nexporter:\n  port: 9401\n  mode: daemonset\n")
    env = {
        "INFERWATCH_PROMETHEUS__URL": "http://b:9090/",
        "INFERWATCH_EXPORTER__PORT": "9555",
        "INFERWATCH_EXPORTER__GPU_UUIDS": '["GPU-a", "GPU-b"]',
        "INFERWATCH_CONFIG": "ignored.yaml",  # the CLI's own variables are no config keys
        "PATH": "/bin",
    }
    cfg = load_config(f, env)
    assert cfg.prometheus.url == "http://b:9090"
    assert cfg.exporter.port == 9555 and cfg.exporter.mode == "daemonset"  # nested keys merge, not replace
    assert cfg.exporter.gpu_uuids == ["GPU-a", "GPU-b"]
    app = AppContext(config_path=f, environ=env)
    flagged = app.config_with({"exporter": {"port": 9600}})
    assert flagged.exporter.port == 9600 and flagged.exporter.mode == "daemonset"
    assert flagged.prometheus.url == "http://b:9090"


def test_bad_environment_value_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, {"INFERWATCH_EXPORTER__PORT": "70000", "INFERWATCH_EXPORTER__COLOUR": "red"})
    assert {p.path for p in err.value.problems} == {"exporter.port", "exporter.colour"}


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


SLO = "slos:\n  - name: a\n    objective: 99\n    sli: {kind: ttft, threshold_seconds: 2.5}\n"


@pytest.mark.parametrize(
    ("text", "field_path", "message"),
    [
        ("thresholds:\n  kv_cache_usage_ratio: 1.5\n", "thresholds.kv_cache_usage_ratio", "less than or equal"),
        # The message quotes the user's input verbatim, "[bold]" included (rich would take it for markup).
        ("prometheus:\n  '[bold]url': http://prom:9090\n", "prometheus.[bold]url", "Extra inputs"),
        # finite numbers only: thresholds, SLO thresholds, prices
        ("thresholds:\n  ttft_p95_seconds: .inf\n", "thresholds.ttft_p95_seconds", "finite"),
        (SLO.replace("2.5}", ".inf}"), "slos.0.sli.threshold_seconds", "finite"),
        ("pricing:\n  gpu_hour: {H100: .inf}\n", "pricing.gpu_hour.H100", "finite"),
        ("pricing:\n  energy_kwh: .nan\n", "pricing.energy_kwh", "finite"),
        # `true` is not the number 1
        (SLO.replace("objective: 99", "objective: true"), "slos.0.objective", "not true/false"),
        # an objective whose error budget the rules cannot write
        (SLO.replace("objective: 99", "objective: 99.99999"), "slos.0.objective", "99.9999"),
        # absurd or malformed hold durations
        ("thresholds:\n  ttft_for: 99999999999999999999d\n", "thresholds.ttft_for", "longer than the 7d"),
        ("thresholds:\n  ecc_for: 8d\n", "thresholds.ecc_for", "longer than the 7d"),
        ("thresholds:\n  itl_for: 10 minutes\n", "thresholds.itl_for", "not a duration"),
        # template syntax in the runbook URL would be executed by Prometheus
        ("runbook_base_url: 'https://x/{{ $labels.pod }}'\n", "runbook_base_url", "template"),
        ("thresholds:\n  runbook_base_url: https://x\n", "thresholds", "moved out of thresholds"),
        # duplicate SLO names, with the path of the second one
        (SLO + "  - name: a\n    objective: 99\n    sli: {kind: availability}\n", "slos.1.name", "already used"),
        # a duplicate key would silently shadow the first value
        ("prometheus:\n  url: http://a:9090\n  url: http://b:9090\n", "line 3, column 3", "duplicate key 'url'"),
        ("buckets:\n  ttft: [1.0, 0.5]\n", "buckets.ttft", "strictly increasing"),
        (SLO + "    group_by: [namespace, namespace]\n", "slos.0.group_by", "lists namespace twice"),
    ],
)
def test_cli_exits_2_naming_the_field(tmp_path: Path, text: str, field_path: str, message: str) -> None:
    f = tmp_path / "inferwatch.yaml"
    f.write_text(text)
    result = CliRunner().invoke(cli, ["--config", str(f), "config", "check"])
    assert result.exit_code == 2, result.output
    assert str(f) in result.stderr
    assert field_path in result.stderr and message in result.stderr, result.stderr


def test_non_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    head = b"prometheus:\n  url: http://caf"
    f.write_bytes(head + b"\xe9:9090\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert f"not UTF-8: byte offset {len(head)} (0xe9)" in result.stderr


def test_a_utf16_file_names_the_byte_offset(tmp_path: Path) -> None:
    f = tmp_path / "utf16.yaml"
    f.write_bytes("version: 1\n".encode("utf-16"))
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "not UTF-8: byte offset 0 (0xff)" in result.stderr


def test_a_character_yaml_forbids_names_the_byte_offset(tmp_path: Path) -> None:
    f = tmp_path / "nul.yaml"
    f.write_bytes("version: 1\n# café\n".encode() + b"\x00\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "byte offset 19: character U+0000 is not allowed in YAML" in result.stderr


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 500, 5000])
def test_deep_nesting_is_refused_before_it_is_built(tmp_path: Path, depth: int) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text("slos: " + "[" * depth + "]" * depth + "\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2, result.output
    assert f"nested more than {MAX_NESTING} levels deep" in result.stderr


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    with f.open("w") as out:
        out.write("# " + "x" * (MAX_CONFIG_BYTES * 3) + "\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert f"larger than {MAX_CONFIG_BYTES} bytes" in result.stderr


def test_aliases_are_refused(tmp_path: Path) -> None:
    """An alias bomb (each level doubling the last) would expand to billions of nodes."""
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "YAML aliases (*name) are not supported" in result.stderr


def test_control_characters_in_keys_are_shown_escaped(tmp_path: Path) -> None:
    f = tmp_path / "ansi.yaml"
    f.write_text('prometheus:\n  "\\e[31mred\\e[0m": 1\n')
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert "prometheus.\\x1b[31mred\\x1b[0m" in result.stderr


def test_cli_config_check_ok(repo_root: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(repo_root / "examples" / "inferwatch.yaml"), "config", "check"])
    assert result.exit_code == 0, result.output
    assert "ok (3 SLO(s))" in result.stdout
