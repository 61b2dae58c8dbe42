"""Generated rules area: golden files, the raw-metric boundary, runbooks, thresholds, CRD schema, CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.alerts.catalog import GROUPS, alert_definitions, alert_groups
from inferwatch.alerts.definition import ALERT_GROUP_PREFIX
from inferwatch.alerts.generate import artifacts, rule_files
from inferwatch.alerts.normalize import NORMALIZE_GROUP_PREFIX
from inferwatch.alerts.runbooks import add_runbook_links, prose_template
from inferwatch.app.cli import cli
from inferwatch.artifacts import ArtifactKind
from inferwatch.config import InferwatchConfig, Thresholds, load_config
from inferwatch.conventions import slo as slo_conventions
from inferwatch.reference import reference_path
from inferwatch.rules import AlertingRule
from inferwatch.tools import Toolbox

RAW_METRIC = re.compile(
    r"(?<![\w:])(vllm:|sglang:|llm_d_epp_|inference_(?:model|objective|pool|extension)_|DCGM_|inferwatch_)\w"
)


def _project_rule_files(repo_root: Path) -> list[Path]:
    files = sorted([*repo_root.glob("alerts/generated/*.yaml"), *repo_root.glob("slo/generated/*.yaml")])
    assert any(p.parent.name == "generated" and p.parent.parent.name == "alerts" for p in files)
    return files


def test_committed_artifacts_match_the_generator(repo_root: Path) -> None:
    """Golden files: what the example configuration generates is what is committed."""
    config = load_config(repo_root / "examples" / "inferwatch.yaml")
    for art in artifacts(config):
        committed = repo_root / art.path
        assert committed.is_file(), f"{art.path} is not committed; run `inferwatch build`"
        assert committed.read_text() == art.content, f"{art.path} differs; run `inferwatch build`"


def test_generation_is_deterministic() -> None:
    first = [(a.path, a.content) for a in artifacts(InferwatchConfig())]
    assert first == [(a.path, a.content) for a in artifacts(InferwatchConfig())]


def test_only_normalization_rules_name_raw_metrics(repo_root: Path) -> None:
    raw_in_normalize = 0
    for path in _project_rule_files(repo_root):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                names = RAW_METRIC.findall(rule["expr"])
                if group["name"].startswith(NORMALIZE_GROUP_PREFIX):
                    raw_in_normalize += bool(names)
                else:
                    who = rule.get("record") or rule.get("alert")
                    assert not names, f"{path.name}: {group['name']}/{who} reads raw {names}"
    assert raw_in_normalize > 60  # the check itself sees raw names where they belong


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_both_promtools_accept_every_generated_rule_file(tools: Toolbox, repo_root: Path, promtool: str) -> None:
    for path in _project_rule_files(repo_root):
        proc = tools.run(promtool, "check", "rules", str(path))
        assert proc.returncode == 0, f"{promtool} rejects {path}:\n{proc.stdout}{proc.stderr}"


def test_every_alert_has_severity_annotations_and_a_runbook(repo_root: Path) -> None:
    config = load_config(repo_root / "examples" / "inferwatch.yaml")
    groups = yaml.safe_load((repo_root / "alerts/generated/alerts.yaml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"]]
    assert {a["alert"] for a in alerts} == {d.name for d in alert_definitions(config.thresholds)}
    assert all(g["name"].startswith(ALERT_GROUP_PREFIX) for g in groups)
    for a in alerts:
        assert a["labels"]["severity"] in ("page", "ticket")
        ann = a["annotations"]
        assert ann["summary"] and ann["description"]
        assert ann["runbook_url"] == f"{config.runbook_base_url}/{a['alert']}.md"
        runbook = repo_root / "docs" / "runbooks" / f"{a['alert']}.md"
        text = runbook.read_text()
        assert f"# {a['alert']}" in text and "## What to check" in text and "## What to do" in text
        if a["alert"] != "GPUMetricsAbsent" and a["alert"] != "VLLMMetricsAbsent":
            assert "{{ $value" in ann["description"] or "{{ $labels.cause" in ann["description"], a["alert"]


def test_a_threshold_flows_into_the_alert_and_its_runbook() -> None:
    config = InferwatchConfig(
        thresholds=Thresholds(ttft_p95_seconds=3.5, kv_cache_usage_ratio=0.9, application_xids=[13, 48])
    )
    files = {a.path: a.content for a in artifacts(config)}
    rules = files["alerts/generated/alerts.yaml"]
    assert "> 3.5)\n" in rules and "threshold 3.5s for 10m" in rules
    assert "vllm_kv_cache_usage:max > 0.9\n" in rules
    assert 'xid!~"13|48"' in rules
    assert "above 3.5 s for 10m" in files["docs/runbooks/VLLMTimeToFirstTokenHigh.md"]
    assert "above 90%" in files["docs/runbooks/VLLMKVCacheNearlyFull.md"]
    assert "(13, 48)" in files["docs/runbooks/GPUCriticalXid.md"]


def test_thresholds_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="ttft_for"):
        Thresholds(ttft_for="10 minutes")
    with pytest.raises(ValueError, match="kv_cache_usage_ratio"):
        Thresholds(kv_cache_usage_ratio=95)


CRD = "monitoring.coreos.com_prometheusrules.yaml"


def _crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(reference_path("prometheus-operator-crds", CRD).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_prometheusrule_objects_match_the_crd_schema() -> None:
    # The CRD's own patterns are Go regexps (`^(?i)…`), which Python's re refuses as a schema check;
    # validating instances compiles only the patterns of fields an object uses.
    validator = jsonschema.Draft7Validator(_crd_schema())
    objects = [a for a in artifacts(InferwatchConfig()) if a.path.startswith("deploy/prometheusrules/")]
    assert len(objects) == 2 and all(a.kind is ArtifactKind.KUBERNETES for a in objects)
    for art in objects:
        obj = yaml.safe_load(art.content)
        validator.validate(obj)
        assert obj["kind"] == "PrometheusRule" and obj["spec"]["groups"]
    # and the schema does bite: a rule without expr is refused
    broken = yaml.safe_load(objects[0].content)
    del broken["spec"]["groups"][0]["rules"][0]["expr"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_rules_cli_builds_and_lists(tmp_path: Path, repo_root: Path) -> None:
    runner = CliRunner()
    config = str(repo_root / "examples" / "inferwatch.yaml")
    result = runner.invoke(cli, ["-c", config, "rules", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "alerts/generated/normalize.yaml").read_text() == (
        repo_root / "alerts/generated/normalize.yaml"
    ).read_text()
    assert (tmp_path / "docs/runbooks/GPULost.md").is_file()
    listed = runner.invoke(cli, ["-c", config, "rules", "list"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"VLLMTimeToFirstTokenHigh\s+page\s+P95 TTFT .* above 2 s for 10m", listed.output)
    assert len(listed.output.strip().splitlines()) == len(alert_definitions(Thresholds()))


def test_no_runbook_outlives_its_alert(repo_root: Path) -> None:
    pages = {p.stem for p in (repo_root / "docs" / "runbooks").glob("*.md")} - {"README"}
    slo_alerts = {
        slo_conventions.ALERT_PAGE,
        slo_conventions.ALERT_TICKET,
        slo_conventions.ALERT_ABSENT,
        slo_conventions.ALERT_RECORDING_GAP,
    }
    assert pages == {d.name for d in alert_definitions(Thresholds())} | slo_alerts


def test_every_alert_has_its_runbook_prose_and_no_prose_outlives_its_alert() -> None:
    """alerts/templates/<AlertName>.md.j2 per alert (the layouts start with an underscore)."""
    templates = Path(__file__).resolve().parents[2] / "alerts" / "templates"
    prose = {p.name for p in templates.glob("*.md.j2") if not p.name.startswith("_")}
    assert prose == {prose_template(d.name) for d in alert_definitions(Thresholds())}
    for name in prose:
        text = (templates / name).read_text()
        assert text.count("## What to check\n\n1. ") == 1 and text.count("## What to do\n\n- ") == 1, name


def test_runbook_links_are_added_in_one_pass_to_alerts_only() -> None:
    """Each group module builds its alerts without a link; the catalog links every alert to its runbook."""
    t = Thresholds()
    assert [g.name for g in alert_groups(t, "https://rb")] == [g.name for g in GROUPS]
    assert all("runbook_url" not in d.to_rule().annotations for d in alert_definitions(t))
    linked = [r for g in alert_groups(t, "https://rb") for r in g.rules if isinstance(r, AlertingRule)]
    assert [r.alert for r in linked] == [d.name for d in alert_definitions(t)]
    assert all(r.annotations["runbook_url"] == f"https://rb/{r.alert}.md" for r in linked)
    normalize = rule_files(InferwatchConfig())["normalize"].groups
    assert add_runbook_links(normalize, "https://rb") == normalize  # recording rules: nothing to link


def test_every_for_duration_is_config() -> None:
    """Each alert's `for:` is a `*_for` threshold: changing them all changes every alert, rule and runbook."""
    fields = [name for name in Thresholds.model_fields if name.endswith("_for")]
    config = InferwatchConfig(thresholds=Thresholds(**dict.fromkeys(fields, "37m")))
    files = {a.path: a.content for a in artifacts(config)}
    alerts = [r for g in yaml.safe_load(files["alerts/generated/alerts.yaml"])["groups"] for r in g["rules"]]
    assert alerts and all(a["for"] == "37m" for a in alerts)
    for d in alert_definitions(config.thresholds):
        assert "Held for `37m` before firing." in files[f"docs/runbooks/{d.name}.md"], d.name
        assert "37m" in d.threshold, d.name
    # 0s: no `for:` at all, the alert fires at the first matching evaluation
    instant = InferwatchConfig(thresholds=Thresholds(xid_for="0s", ttft_for="0s"))
    rules = {r.alert: r for g in rule_files(instant)["alerts"].groups for r in g.rules if isinstance(r, AlertingRule)}
    assert rules["GPUCriticalXid"].for_ is None and rules["VLLMTimeToFirstTokenHigh"].for_ is None
