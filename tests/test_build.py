"""`inferwatch build` and `rules build` when a generated file fails the real tools: exit 6, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from inferwatch.alerts import cli as alerts_cli

from inferwatch import build
from inferwatch.artifacts import Artifact, ArtifactKind
from inferwatch.cli import cli
from inferwatch.config import InferwatchConfig
from inferwatch.tools import Toolbox

BROKEN = Artifact(
    "alerts/generated/broken.yaml",
    "groups:\n- name: broken\n  rules:\n  - record: 'not a valid name'\n    expr: up{\n",
    ArtifactKind.PROMETHEUS_RULES,
)
GOOD = Artifact("docs/ok.md", "fine\n", ArtifactKind.DOCUMENT)


def test_build_fails_naming_the_check_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Toolbox
) -> None:
    monkeypatch.setattr(build, "generators", lambda: [("test", lambda _cfg: [GOOD, BROKEN])])
    result = CliRunner().invoke(cli, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 6, result.output
    assert "check(s) failed; nothing was written" in result.output
    assert "promtool alerts/generated/broken.yaml" in result.output
    assert list(tmp_path.iterdir()) == []


def test_rules_build_fails_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Toolbox) -> None:
    def artifacts(_: InferwatchConfig) -> list[Artifact]:
        return [GOOD, BROKEN]

    monkeypatch.setattr(alerts_cli, "artifacts", artifacts)
    result = CliRunner().invoke(cli, ["rules", "build", "--out", str(tmp_path)])
    assert result.exit_code == 6, result.output
    assert "promtool2 alerts/generated/broken.yaml" in result.output
    assert list(tmp_path.iterdir()) == []
