"""`inferwatch build`, the one writer: registered generators, validation by kind, all-or-nothing writes,
one PrometheusRule label set, the config file named in every header, and the area subcommands that
run the same pipeline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app import generators
from inferwatch.app.cli import cli
from inferwatch.app.generators import GENERATORS, PACKAGERS, Generator
from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import Artifact, ArtifactKind
from inferwatch.config import InferwatchConfig, load_config
from inferwatch.tools import Toolbox

BROKEN = Artifact(
    "alerts/generated/broken.yaml",
    "groups:\n- name: broken\n  rules:\n  - record: 'not a valid name'\n    expr: up{\n",
    ArtifactKind.PROMETHEUS_RULES,
)
GOOD = Artifact("docs/ok.md", "fine\n", ArtifactKind.DOCUMENT)


def good_and_broken(_: InferwatchConfig) -> list[Artifact]:
    """A generator whose second file promtool rejects."""
    return [GOOD, BROKEN]


def only_good(_: InferwatchConfig) -> list[Artifact]:
    """A generator whose one file is fine."""
    return [GOOD]


@pytest.mark.parametrize(
    ("area", "argv"),
    [
        ("test", ["build"]),
        ("alerts", ["rules", "build"]),  # `rules build` is `build --only alerts`
        ("slo", ["slo", "rules"]),  # `slo rules --out` is `build --only slo`
    ],
)
def test_a_failed_check_writes_nothing_whichever_command_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Toolbox, area: str, argv: list[str]
) -> None:
    monkeypatch.setattr(generators, "GENERATORS", (Generator(area, good_and_broken),))
    monkeypatch.setattr(generators, "PACKAGERS", ())
    result = CliRunner().invoke(cli, [*argv, "--out", str(tmp_path)])
    assert result.exit_code == 6, result.output
    assert "check(s) failed; nothing was written" in result.output
    assert "promtool alerts/generated/broken.yaml" in result.output
    assert "promtool2 alerts/generated/broken.yaml" in result.output
    assert list(tmp_path.iterdir()) == []


def test_only_builds_the_named_areas_and_refuses_unknown_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generators, "GENERATORS", (Generator("a", only_good), Generator("b", good_and_broken)))
    monkeypatch.setattr(generators, "PACKAGERS", ())
    runner = CliRunner()
    result = runner.invoke(cli, ["build", "--only", "a", "--no-validate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["docs/ok.md"]
    result = runner.invoke(cli, ["build", "--only", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--only nope: unknown area (known: a, b)" in result.stderr


def test_every_area_is_registered_once() -> None:
    names = generators.areas()
    assert len(names) == len(set(names))
    assert {"prometheus", "alerts", "slo", "cost", "chart"} <= set(names)
    for gen in GENERATORS:
        assert callable(gen.generate), gen
    for packager in PACKAGERS:
        assert callable(packager.package), packager


def test_the_chart_packages_what_the_generators_made_without_running_them_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--only chart` runs each generator once and returns only the chart's files, built from their output."""
    calls: list[str] = []

    def counted(gen: Generator) -> Generator:
        def generate(config: InferwatchConfig) -> list[Artifact]:
            calls.append(gen.area)
            return gen.generate(config)

        return Generator(gen.area, generate)

    monkeypatch.setattr(generators, "GENERATORS", tuple(counted(g) for g in GENERATORS))
    config = InferwatchConfig()
    everything = generate_all(config)
    assert sorted(calls) == sorted(g.area for g in GENERATORS)
    calls.clear()
    chart = generate_all(config, only=("chart",))
    assert sorted(calls) == sorted(g.area for g in GENERATORS)  # each once, for the chart to package
    assert chart and all(a.path.startswith("deploy/helm/inferwatch/") for a in chart)
    assert [a for a in everything if a.path.startswith("deploy/helm/inferwatch/")] == chart
    calls.clear()
    assert generate_all(config, only=("slo",)) and calls == ["slo"]  # no packager asked for: one generator runs


def test_header_names_the_config_file_actually_used(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(repo_root / "examples" / "inferwatch.yaml", tmp_path / "prod.yaml")
    result = CliRunner().invoke(
        cli, ["-c", "prod.yaml", "build", "--only", "slo", "--only", "cost", "--only", "alerts", "--no-validate"]
    )
    assert result.exit_code == 0, result.output
    for path in ("slo/generated/slo-rules.yaml", "slo/generated/cost-rules.yaml", "alerts/generated/alerts.yaml"):
        header = (tmp_path / path).read_text().splitlines()[0]
        assert "prod.yaml" in header and "examples/inferwatch.yaml" not in header, header
    # Without a file, the header says the built-in defaults were used.
    defaults = {a.path: a.content for a in generate_all(InferwatchConfig(), only=("slo",))}
    assert "<built-in defaults>" in defaults["slo/generated/slo-rules.yaml"].splitlines()[0]


def _prometheus_rules(artifacts: list[Artifact]) -> list[dict[str, object]]:
    docs = [d for a in artifacts if a.kind is ArtifactKind.KUBERNETES for d in yaml.safe_load_all(a.content)]
    return [d for d in docs if d["kind"] == "PrometheusRule"]


def test_one_selector_picks_up_every_prometheusrule(repo_root: Path) -> None:
    """normalization, alert, SLO and cost rules carry one label set (plus `rule_labels` from the config),
    so a ruleSelector on it selects all of them; each says its area in `component`."""
    config = load_config(repo_root / "examples" / "inferwatch.yaml")
    assert config.rule_labels == {"release": "kube-prometheus-stack"}
    selector = {"app.kubernetes.io/name": "inferwatch", "app.kubernetes.io/part-of": "inferwatch", **config.rule_labels}
    objects = _prometheus_rules(generate_all(config))
    components = set()
    for obj in objects:
        labels = obj["metadata"]["labels"]  # type: ignore[index]
        assert selector.items() <= labels.items(), obj["metadata"]
        components.add(labels["app.kubernetes.io/component"])
    assert components == {"normalization", "alerts", "slo", "cost", "autoscaling"}
    # what is committed carries the same labels
    for path in sorted((repo_root / "deploy" / "prometheusrules").glob("*.yaml")):
        assert selector.items() <= yaml.safe_load(path.read_text())["metadata"]["labels"].items(), path


def test_rule_labels_cannot_override_the_fixed_ones(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("rule_labels:\n  app.kubernetes.io/component: mine\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "rule_labels" in result.stderr and "cannot be overridden" in result.stderr


BAD_THRESHOLD = """
slos:
  - name: chat-ttft
    objective: 99
    sli: {kind: ttft, threshold_seconds: 2.2}
"""


@pytest.mark.parametrize("argv", [["config", "check"], ["build"], ["build", "--no-validate"], ["slo", "rules"]])
def test_a_threshold_off_the_buckets_never_reaches_a_rule_file(tmp_path: Path, argv: list[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BAD_THRESHOLD)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if argv[0] in ("build", "slo") else []
    result = CliRunner().invoke(cli, ["-c", str(f), *argv, *extra])
    assert result.exit_code == 2, result.output
    assert str(f) in result.stderr
    assert "slos.0.sli.threshold_seconds" in result.stderr and "SLO 'chat-ttft'" in result.stderr
    assert "2.2 is not a bucket boundary of vLLM's default ttft buckets" in result.stderr
    assert not out.exists()


def test_declared_custom_buckets_make_a_threshold_valid(tmp_path: Path) -> None:
    f = tmp_path / "custom.yaml"
    f.write_text(BAD_THRESHOLD + "buckets:\n  ttft: [0.5, 1.1, 2.2, 4.4]\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 0, result.output
    rules = {a.path: a.content for a in generate_all(load_config(f), only=("slo",))}["slo/generated/slo-rules.yaml"]
    bucket_lines = [line for line in rules.splitlines() if "vllm_ttft_seconds_bucket:rate5m{" in line]
    assert bucket_lines and all("2\\\\.2" in line for line in bucket_lines), bucket_lines
    # ... and a threshold off the declared boundaries names them
    f.write_text(BAD_THRESHOLD + "buckets:\n  ttft: [0.5, 1.0]\n")
    result = CliRunner().invoke(cli, ["-c", str(f), "config", "check"])
    assert result.exit_code == 2
    assert "not a bucket boundary of buckets.ttft (0.5, 1)" in result.stderr


def test_build_writes_what_check_then_accepts(tmp_path: Path, repo_root: Path, tools: Toolbox) -> None:
    """The whole pipeline with every real validator: build into an empty tree, then --check it."""
    config = str(repo_root / "examples" / "inferwatch.yaml")
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", config, "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for tool in ("promtool2", "amtool", "kubeconform", "links"):
        assert tool in result.stderr, tool
    assert "FAILED" not in result.stderr
    checked = runner.invoke(cli, ["-c", config, "build", "--check", "--no-validate", "--out", str(tmp_path)])
    assert checked.exit_code == 0, checked.output
    (tmp_path / "slo/generated/cost-rules.yaml").write_text("edited\n")
    checked = runner.invoke(cli, ["-c", config, "build", "--check", "--no-validate", "--out", str(tmp_path)])
    assert checked.exit_code == 6
    assert "cost-rules.yaml" in checked.stderr


def test_every_alert_of_every_area_holds_for_its_configured_duration(repo_root: Path) -> None:
    """All `*_for` thresholds set to 37m: every alerting rule that is built (rules area and SLOs) says 37m."""
    base = load_config(repo_root / "examples" / "inferwatch.yaml")
    fields = [name for name in type(base.thresholds).model_fields if name.endswith("_for")]
    config = base.model_copy(update={"thresholds": base.thresholds.model_copy(update=dict.fromkeys(fields, "37m"))})
    alerts = [
        rule
        for art in generate_all(config)
        if art.kind is ArtifactKind.PROMETHEUS_RULES
        for group in yaml.safe_load(art.content)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert {r["alert"] for r in alerts} >= {"VLLMTimeToFirstTokenHigh", "InferwatchSLOBurnRatePage"}
    assert [r["alert"] for r in alerts if r.get("for") != "37m"] == []
