"""The Helm chart: lint, golden renders, schema validation and assertions over the rendered objects.

Each `ci/*-values.yaml` is one permutation CI renders (operator or plain Prometheus, attribution
on or off, no dashboards, the report through a webhook). Set UPDATE_GOLDEN=1 to rewrite the golden
renders after a reviewed change.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from inferwatch import __version__
from inferwatch.app.chart.package import MAX_DASHBOARD_BYTES, chart_artifacts
from inferwatch.app.chart.values import CHART_DIR, SIDECAR_POD_LABEL, SIDECAR_PORT_NAME, ChartValues
from inferwatch.app.pipeline import generate_all
from inferwatch.artifacts import Artifact, ArtifactKind
from inferwatch.config import InferwatchConfig, load_config
from inferwatch.errors import ValidationFailedError
from inferwatch.tools import Toolbox
from tests.deploy.chart_support import (
    CHART,
    CI_VALUES,
    GOLDEN,
    HelmFailed,
    copy_chart,
    find,
    helm_template,
    kubeconform_schemas,
    objects,
    one,
    pod_spec,
)
from tests.support.exporter import exporter_process

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inferwatch.yaml"


@pytest.fixture
def exporter_url(tmp_path: Path) -> Iterator[str]:
    """/metrics of a real exporter (simulated GPUs) on loopback."""
    with exporter_process(tmp_path / "exporter", ["--gpu-backend", "simulated"]) as running:
        yield running.url + "/metrics"


def _render(tools: Toolbox, *values: str, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    args: list[str] = []
    for v in values:
        args += ["-f", str(CHART / "ci" / v)]
    for s in sets:
        args += ["--set", s]
    return objects(helm_template(tools, *args))


# ---------------------------------------------------------------- lint, golden, schemas


def test_ci_values_cover_the_permutations() -> None:
    names = {p.name for p in CI_VALUES}
    assert {
        "default-values.yaml",
        "plain-prometheus-values.yaml",
        "no-attribution-values.yaml",
        "no-dashboards-values.yaml",
        "cost-webhook-values.yaml",
        "exporter-tls-values.yaml",
        "kube-rbac-proxy-values.yaml",
    } <= names


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_helm_lint_strict(tools: Toolbox, values: Path) -> None:
    proc = tools.run("helm", "lint", "--strict", str(CHART), "-f", str(values))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _golden_view(rendered: str) -> str:
    """The render with what `inferwatch build` generates replaced by where it comes from.

    The embedded rules, dashboards and mounted config are compared with the build's output by the
    tests below; the golden files hold the chart's own structure, so a new alert or panel does not
    churn them.
    """
    docs = objects(rendered)
    for d in docs:
        name = d["metadata"]["name"]
        if d["kind"] == "PrometheusRule":
            d["spec"] = f"<embedded: files/prometheusrules/{name}.yaml, spec>"
        elif d["kind"] == "ConfigMap" and name.endswith("-config"):
            d["data"] = {"inferwatch.yaml": "<the inferwatch values block, mode and URLs set by the chart>"}
        elif d["kind"] == "ConfigMap" and name.endswith("-rules"):
            d["data"] = {k: f"<embedded: files/prometheusrules/inferwatch-{k.removesuffix('.rules.yaml')}.yaml, spec>"
                         for k in d["data"]}  # fmt: skip
        elif d["kind"] == "ConfigMap" and "-dashboard-" in name:
            d["data"] = {k: f"<embedded: files/dashboards/{k}>" for k in d["data"]}
        template = (
            d.get("spec", {}).get("template")
            or d.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
            if isinstance(d.get("spec"), dict)
            else None
        )
        if template and "checksum/config" in template["metadata"].get("annotations", {}):
            template["metadata"]["annotations"]["checksum/config"] = "<sha256 of the config ConfigMap>"
    return yaml.safe_dump_all(docs, sort_keys=False, width=120)


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_render_matches_golden(tools: Toolbox, values: Path) -> None:
    rendered = _golden_view(helm_template(tools, "-f", str(values)))
    golden = GOLDEN / values.name.replace("-values.yaml", ".yaml")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered)
    assert golden.is_file(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == golden.read_text(), f"render of {values.name} changed: review, then UPDATE_GOLDEN=1"


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kubeconform_schemas(tmp_path_factory.mktemp("kubeconform-schemas"))


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_render_passes_kubeconform_strict(tools: Toolbox, values: Path, schema_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(helm_template(tools, "-f", str(values)))
    proc = tools.run(
        "kubeconform",
        "-strict",
        "-summary",
        "-output",
        "text",
        "-schema-location",
        str(schema_dir / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
        str(manifest),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Skipped: 0" in proc.stdout and "Invalid: 0" in proc.stdout, proc.stdout


def test_kubeconform_refuses_a_broken_object(tools: Toolbox, schema_dir: Path, tmp_path: Path) -> None:
    objs = _render(tools, "default-values.yaml")
    monitor = one(objs, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["honourLabels"] = True  # a typo the operator would drop silently
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(yaml.safe_dump(monitor))
    proc = tools.run(
        "kubeconform", "-strict", "-schema-location", str(schema_dir / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
        str(manifest),
    )  # fmt: skip
    assert proc.returncode != 0 and "honourLabels" in proc.stdout


# ---------------------------------------------------------------- values and their schema


def test_values_schema_rejects_a_typo(tools: Toolbox) -> None:
    with pytest.raises(HelmFailed, match="atribution"):
        _render(tools, sets=("exporter.atribution=false",))
    with pytest.raises(HelmFailed, match="sample_interval"):
        _render(tools, sets=("inferwatch.exporter.sample_intervall_s=2",))


def test_values_schema_applies_the_config_models_limits(tools: Toolbox) -> None:
    with pytest.raises(HelmFailed, match="port"):
        _render(tools, sets=("inferwatch.exporter.port=70000",))
    with pytest.raises(HelmFailed, match="digest"):
        _render(tools, sets=("image.digest=latest",))


def test_values_schema_inferwatch_block_is_the_config_models() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config_schema = InferwatchConfig.model_json_schema()
    ref = schema["properties"]["inferwatch"]["$ref"].split("/")[-1]
    assert set(schema["$defs"][ref]["properties"]) == set(config_schema["properties"])
    assert schema["$defs"]["ExporterSettings"]["additionalProperties"] is False
    assert set(schema["$defs"]["ExporterSettings"]["properties"]) == set(
        config_schema["$defs"]["ExporterSettings"]["properties"]
    )


def _model_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, field in model.model_fields.items():
        path = (*prefix, field.alias or name)
        paths.append(path)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            paths.extend(_model_paths(field.annotation, path))
    return paths


def test_every_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    commented: dict[tuple[str, ...], bool] = {}
    stack: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z_][\w.-]*):", line)
        if not m:
            continue
        while stack and stack[-1][0] >= len(m.group(1)):
            stack.pop()
        stack.append((len(m.group(1)), m.group(2)))
        commented[tuple(k for _, k in stack)] = lines[i - 1].lstrip().startswith("#")
    for path in _model_paths(ChartValues):
        if path in commented:
            assert commented[path], f"values.yaml: {'.'.join(path)} has no comment above it"
        else:  # an unset optional setting is shown commented out, with its description
            assert any(line.strip() == f"# {path[-1]}:   (unset)" for line in lines), ".".join(path)
    assert len(commented) > 100


def test_values_yaml_is_the_build_configs(repo_root: Path) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    config = load_config(EXAMPLE)
    assert InferwatchConfig.model_validate(values["inferwatch"]).model_dump() == config.model_dump()


def test_overriding_a_rule_input_in_values_is_refused(tools: Toolbox) -> None:
    with pytest.raises(HelmFailed, match=r"inferwatch\.thresholds differs .*`inferwatch -c my\.yaml build"):
        _render(tools, sets=("inferwatch.thresholds.ttft_p95_seconds=5",))
    # settings that no rule depends on may be overridden freely
    objs = _render(tools, sets=("inferwatch.exporter.sample_interval_s=2",))
    config = yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"])
    assert config["exporter"]["sample_interval_s"] == 2


# ---------------------------------------------------------------- the chart's files are build output


def _generated_rules(config: InferwatchConfig) -> dict[str, str]:
    """Every single-object PrometheusRule file the build makes, by object name."""
    out = {}
    for art in generate_all(config):
        docs = [d for d in yaml.safe_load_all(art.content) if d] if art.path.endswith(".yaml") else []
        if art.kind is ArtifactKind.KUBERNETES and len(docs) == 1 and docs[0].get("kind") == "PrometheusRule":
            out[docs[0]["metadata"]["name"]] = art.content
    return out


def test_chart_files_equal_build_output(repo_root: Path) -> None:
    config = load_config(EXAMPLE)
    built = {a.path: a.content for a in generate_all(config)}
    chart_files = {str(p.relative_to(repo_root)) for p in (CHART / "files").rglob("*") if p.is_file()} | {
        f"{CHART_DIR}/values.yaml",
        f"{CHART_DIR}/values.schema.json",
    }
    for path in chart_files:
        assert path in built, f"{path} is in the chart but no generator makes it"
        assert (repo_root / path).read_text() == built[path], f"{path} differs from `inferwatch build` output"
    # every PrometheusRule object the build makes is in the chart, byte for byte, named by the object
    rules = _generated_rules(config)
    assert {"inferwatch-normalize", "inferwatch-alerts", "inferwatch-slo", "inferwatch-cost"} <= set(rules)
    for name, content in rules.items():
        assert (CHART / "files" / "prometheusrules" / f"{name}.yaml").read_text() == content
    assert len(list((CHART / "files" / "prometheusrules").glob("*.yaml"))) == len(rules)


def test_chart_picks_up_every_generated_dashboard(repo_root: Path) -> None:
    config = load_config(EXAMPLE)
    dashboards = [a for a in generate_all(config) if a.kind is ArtifactKind.GRAFANA_DASHBOARD]
    shipped = (
        sorted(p.name for p in (CHART / "files" / "dashboards").glob("*.json"))
        if (CHART / "files" / "dashboards").is_dir()
        else []
    )
    assert len(shipped) == len(dashboards)


def test_a_dashboard_too_large_for_a_configmap_is_refused() -> None:
    big = Artifact(
        "dashboards/generated/huge.json", "{" + " " * MAX_DASHBOARD_BYTES + "}", ArtifactKind.GRAFANA_DASHBOARD
    )
    with pytest.raises(ValidationFailedError, match=r"huge\.json: .* does not fit one ConfigMap"):
        chart_artifacts(InferwatchConfig(), [big])


def test_fixture_dashboard_becomes_one_configmap(tools: Toolbox, tmp_path: Path) -> None:
    # A dashboard made by a generator reaches the chart as a file, then as one ConfigMap.
    legend = "{{model_name}} {{ $labels.pod }}"  # Grafana and Prometheus templates must stay intact
    content = json.dumps({"title": "Fixture", "uid": "fixture", "panels": [{"legendFormat": legend}]})
    arts = chart_artifacts(
        InferwatchConfig(),
        [Artifact("dashboards/generated/Fixture_View.json", content, ArtifactKind.GRAFANA_DASHBOARD)],
    )
    files = [a for a in arts if "/files/dashboards/" in a.path]
    assert [a.path for a in files] == [f"{CHART_DIR}/files/dashboards/fixture-view.json"]
    chart = copy_chart(tmp_path)
    (chart / "files" / "dashboards").mkdir(exist_ok=True)
    (chart / "files" / "dashboards" / "fixture-view.json").write_text(files[0].content)
    objs = objects(helm_template(tools, chart=chart))
    cm = one(objs, "ConfigMap", "-dashboard-fixture-view")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "inferwatch"
    assert cm["data"]["fixture-view.json"] == content  # byte for byte
    assert json.loads(cm["data"]["fixture-view.json"])["panels"][0]["legendFormat"] == legend
    assert len(yaml.safe_dump(cm).encode()) < 1024 * 1024
    none = objects(helm_template(tools, "--set", "dashboards.enabled=false", chart=chart))
    assert not find(none, "ConfigMap", "-dashboard-fixture-view")


# ---------------------------------------------------------------- rendered objects (helm-unittest style)


def test_exporter_daemonset_runs_on_gpu_nodes_without_taking_a_gpu(tools: Toolbox) -> None:
    ds = one(_render(tools, "default-values.yaml"), "DaemonSet")
    spec = pod_spec(ds)
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["priorityClassName"] == "system-node-critical"
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all" and env["NVIDIA_DRIVER_CAPABILITIES"] == "utility"
    assert "nvidia.com/gpu" not in json.dumps(container["resources"])
    assert container["args"][:4] == ["--config", "/etc/inferwatch/inferwatch.yaml", "exporter", "run"]
    assert {p["containerPort"] for p in container["ports"]} == {9400}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == "metrics"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "runtimeClassName" not in spec
    spec = pod_spec(one(_render(tools, "no-attribution-values.yaml"), "DaemonSet"))
    assert spec["runtimeClassName"] == "nvidia"


def test_attribution_on_mounts_the_kubelet_socket_read_only_as_root(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    spec = pod_spec(one(objs, "DaemonSet"))
    (container,) = spec["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "pod-resources")
    assert mount == {"name": "pod-resources", "mountPath": "/var/lib/kubelet/pod-resources", "readOnly": True}
    volume = next(v for v in spec["volumes"] if v["name"] == "pod-resources")
    assert volume["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"
    assert spec["securityContext"]["runAsUser"] == 0
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    config = yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"])
    assert config["exporter"]["mode"] == "daemonset" and "vllm_url" not in config["exporter"]


def test_attribution_off_runs_non_root_without_the_socket(tools: Toolbox) -> None:
    objs = _render(tools, "no-attribution-values.yaml")
    spec = pod_spec(one(objs, "DaemonSet"))
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 65532
    assert not [v for v in spec["volumes"] if "hostPath" in v]
    config = yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"])
    # sidecar mode without a vLLM URL: every GPU of the node, no kubelet client
    assert config["exporter"]["mode"] == "sidecar" and "vllm_url" not in config["exporter"]


def _assert_hardened(container: dict[str, Any], pod: dict[str, Any], *, non_root: bool) -> None:
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    if non_root:  # Pod Security "restricted": non-root, and only the volume types it allows
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 1000
        restricted = {"configMap", "emptyDir", "persistentVolumeClaim", "secret", "projected", "downwardAPI"}
        assert all(set(v) - {"name"} <= restricted for v in pod.get("volumes", [])), pod.get("volumes")
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    # the only writable place is /tmp (an emptyDir), plus the reports volume of the cost report
    writable = {m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")}
    assert writable <= {"/tmp", "/reports"}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_every_container_is_hardened(tools: Toolbox, values: Path) -> None:
    objs = _render(tools, values.name)
    attribution = yaml.safe_load(values.read_text()) or {}
    root_exporter = attribution.get("exporter", {}).get("attribution", True)
    workloads = [o for o in objs if o["kind"] in ("DaemonSet", "CronJob", "Pod")]
    assert {o["kind"] for o in workloads} == {"DaemonSet", "CronJob", "Pod"}
    for obj in workloads:
        pod = pod_spec(obj)
        for container in pod["containers"]:
            _assert_hardened(container, pod, non_root=not (obj["kind"] == "DaemonSet" and root_exporter))


def test_service_monitor_honors_labels_and_carries_the_release_label(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    monitor = one(objs, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True and endpoint["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = one(objs, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert "helm.sh/chart" not in json.dumps(monitor["spec"]["selector"]) + json.dumps(service["spec"]["selector"])
    assert "annotations" not in service["metadata"]


def test_pod_monitor_selects_sidecar_pods_by_label(tools: Toolbox) -> None:
    monitor = one(_render(tools, "default-values.yaml"), "PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == {SIDECAR_POD_LABEL: "true"}
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == SIDECAR_PORT_NAME and endpoint["honorLabels"] is True
    assert len(SIDECAR_PORT_NAME) <= 15  # an IANA service name


def test_plain_prometheus_gets_annotations_and_rule_files_instead_of_operator_objects(tools: Toolbox) -> None:
    objs = _render(tools, "plain-prometheus-values.yaml")
    assert not find(objs, "ServiceMonitor") and not find(objs, "PodMonitor") and not find(objs, "PrometheusRule")
    annotations = one(objs, "Service")["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9400",
        "prometheus.io/path": "/metrics",
    }
    rules = one(objs, "ConfigMap", "-rules")["data"]
    operator = {
        o["metadata"]["name"]: o for o in _render(tools, "default-values.yaml") if o["kind"] == "PrometheusRule"
    }
    assert len(rules) == len(operator) >= 4
    for key, text in rules.items():
        plain = yaml.safe_load(text)
        name = "inferwatch-" + key.removesuffix(".rules.yaml")
        assert plain == operator[name]["spec"], key


def test_prometheus_rules_are_the_generated_files_with_alert_templates_intact(tools: Toolbox, repo_root: Path) -> None:
    objs = _render(tools, "default-values.yaml", sets=("prometheusRules.additionalLabels.team=ml",))
    rules = find(objs, "PrometheusRule")
    generated = {name: yaml.safe_load(text) for name, text in _generated_rules(load_config(EXAMPLE)).items()}
    assert {r["metadata"]["name"] for r in rules} == set(generated)  # release "inferwatch": same names
    for rule in rules:
        assert rule["spec"] == generated[rule["metadata"]["name"]]["spec"]
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert rule["metadata"]["labels"]["team"] == "ml"
    alerts = next(r for r in rules if r["metadata"]["name"].endswith("-alerts"))
    ttft = next(r for g in alerts["spec"]["groups"] for r in g["rules"] if r.get("alert") == "VLLMTimeToFirstTokenHigh")
    assert "{{ $value | humanizeDuration }}" in ttft["annotations"]["description"]
    assert "{{ $labels.namespace }}" in ttft["annotations"]["description"]


def test_a_rule_file_can_be_left_out_but_not_misspelled(tools: Toolbox) -> None:
    every = {r["metadata"]["name"] for r in find(_render(tools), "PrometheusRule")}
    objs = _render(tools, sets=("prometheusRules.disabled={cost,slo}",))
    left = {r["metadata"]["name"] for r in find(objs, "PrometheusRule")}
    assert left == every - {"inferwatch-cost", "inferwatch-slo"}
    with pytest.raises(HelmFailed, match='no rule object is named "costs"'):
        _render(tools, sets=("prometheusRules.disabled={costs}",))


def test_cost_report_cronjob(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    cron = one(objs, "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["successfulJobsHistoryLimit"] == 3 and cron["spec"]["failedJobsHistoryLimit"] == 3
    assert cron["spec"]["schedule"] == "0 6 * * 1"
    pod = pod_spec(cron)
    (container,) = pod["containers"]
    assert container["args"] == ["--config", "/etc/inferwatch/inferwatch.yaml", "cost", "report", "--out", "/reports"]
    claim = next(v for v in pod["volumes"] if v["name"] == "reports")["persistentVolumeClaim"]["claimName"]
    assert one(objs, "PersistentVolumeClaim")["metadata"]["name"] == claim
    config = yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"])
    assert config["prometheus"]["url"] == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"


def test_cost_report_with_webhook_reads_the_url_from_the_secret(tools: Toolbox) -> None:
    objs = _render(tools, "cost-webhook-values.yaml")
    cron = one(objs, "CronJob")
    (container,) = pod_spec(cron)["containers"]
    assert container["args"][-2:] == ["--webhook", "$(INFERWATCH_WEBHOOK_URL)"]
    assert "/tmp/cost-reports" in container["args"]
    env = next(e for e in container["env"] if e["name"] == "INFERWATCH_WEBHOOK_URL")
    assert env["valueFrom"]["secretKeyRef"] == {"name": "inferwatch-slack", "key": "webhook-url"}
    assert not find(objs, "PersistentVolumeClaim") and not find(objs, "Secret")
    egress = one(objs, "NetworkPolicy", "-cost-report")["spec"]["egress"]
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in egress
    # the chart makes the Secret itself when given the URL
    made = _render(
        tools,
        "cost-webhook-values.yaml",
        sets=("costReport.webhook.existingSecret=", "costReport.webhook.url=https://hooks.example/x"),
    )
    assert one(made, "Secret")["stringData"] == {"webhook-url": "https://hooks.example/x"}


def test_a_report_kept_nowhere_is_refused(tools: Toolbox) -> None:
    with pytest.raises(HelmFailed, match=r"enable costReport\.persistence or costReport\.webhook"):
        _render(tools, sets=("costReport.persistence.enabled=false",))


def test_network_policies(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    exporter = one(objs, "NetworkPolicy", "-exporter")["spec"]
    assert exporter["policyTypes"] == ["Ingress", "Egress"] and exporter["egress"] == []
    peers = exporter["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in peers
    assert not find(_render(tools, sets=("networkPolicy.enabled=false",)), "NetworkPolicy")


def test_should_not_render_the_operator_objects_when_the_operator_is_disabled(tools: Toolbox) -> None:
    objs = _render(tools, sets=("monitoring.operator=false",))
    assert not find(objs, "ServiceMonitor") and not find(objs, "PodMonitor") and not find(objs, "PrometheusRule")


def test_service_account_has_no_token_and_no_rbac(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    assert one(objs, "ServiceAccount")["automountServiceAccountToken"] is False
    assert not [o for o in objs if o["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]


def test_helm_test_hook_scrapes_the_exporter_service(tools: Toolbox) -> None:
    objs = _render(tools, "default-values.yaml")
    pod = one(objs, "Pod", "-test-metrics")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["command"][-1] == "http://inferwatch-exporter.inferwatch.svc:9400/metrics"


def test_helm_test_hook_script_passes_and_fails_for_real(tools: Toolbox, tmp_path: Path, exporter_url: str) -> None:
    # The hook's own Python, run here against a real exporter, then against a port nobody serves.
    pod = one(_render(tools, "default-values.yaml"), "Pod", "-test-metrics")
    script = pod["spec"]["containers"][0]["command"][2]
    ok = subprocess.run([sys.executable, "-c", script, exporter_url], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run([sys.executable, "-c", script, exporter_url.replace("/metrics", "/healthz")],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wrong.returncode == 1 and "without inferwatch_exporter_info" in wrong.stderr


def test_chart_version_and_app_version(repo_root: Path) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_documented_plain_prometheus_scrape_config_is_valid(tools: Toolbox, repo_root: Path, tmp_path: Path) -> None:
    # docs/deploy.md's jobs for Prometheus without the operator: they load, and they select what
    # the chart's monitors select (the sidecar label and port name, the exporter's port).
    doc = (repo_root / "docs" / "deploy.md").read_text()
    block = doc.split("<!-- scrape-config -->\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "prometheus.yml").write_text(block)
    proc = tools.run("promtool", "check", "config", "--syntax-only", str(tmp_path / "prometheus.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(block)["scrape_configs"]}
    assert all(j["honor_labels"] is True for j in jobs.values())
    sidecar_label = "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9]", "_", SIDECAR_POD_LABEL)
    keep = jobs["inferwatch-sidecars"]["relabel_configs"][0]
    assert keep["source_labels"][0] == sidecar_label and keep["regex"] == f"true;{SIDECAR_PORT_NAME}"


def _notes(tools: Toolbox, tmp_path: Path, *args: str) -> str:
    # `helm template` never prints NOTES.txt; render it through `tpl` in a copy of the chart.
    chart = copy_chart(tmp_path)
    (chart / "files" / "notes.txt").write_text((chart / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\n"
        'data:\n  notes: {{ tpl (.Files.Get "files/notes.txt") . | quote }}\n'
    )
    return str(one(objects(helm_template(tools, *args, chart=chart)), "ConfigMap", "rendered-notes")["data"]["notes"])


def test_notes_name_the_objects_the_chart_renders(tools: Toolbox, tmp_path: Path) -> None:
    objs = _render(tools, "default-values.yaml")
    notes = _notes(tools, tmp_path)
    cron = one(objs, "CronJob")["metadata"]["name"]
    assert f"kubectl -n inferwatch create job --from=cronjob/{cron} " in notes
    assert f"rollout status daemonset/{one(objs, 'DaemonSet')['metadata']['name']}" in notes
    assert f"port-forward service/{one(objs, 'Service')['metadata']['name']} 9400:9400" in notes
    assert "helm test inferwatch -n inferwatch" in notes
    assert f"PVC {one(objs, 'PersistentVolumeClaim')['metadata']['name']}" in notes
    plain = _notes(tools, tmp_path / "plain", "--set", "monitoring.operator=false")
    assert "get configmap inferwatch-rules" in plain and "servicemonitor" not in plain


def test_two_dashboards_sharing_a_configmap_name_are_refused() -> None:
    arts = [
        Artifact(f"dashboards/generated/{name}.json", "{}", ArtifactKind.GRAFANA_DASHBOARD)
        for name in ("GPU_Fleet", "gpu-fleet")
    ]
    with pytest.raises(ValidationFailedError, match="would share the dashboard ConfigMap 'gpu-fleet'"):
        chart_artifacts(InferwatchConfig(), arts)


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_mounted_config_is_valid_for_the_cli(tools: Toolbox, values: Path, tmp_path: Path) -> None:
    # What the exporter and the report load at start: inferwatch.yaml of the config ConfigMap.
    text = one(_render(tools, values.name), "ConfigMap", "-config")["data"]["inferwatch.yaml"]
    (tmp_path / "inferwatch.yaml").write_text(text)
    config = load_config(tmp_path / "inferwatch.yaml")
    assert config.slos and config.exporter.vllm_url is None
    given = yaml.safe_load(values.read_text()) or {}
    url = given.get("costReport", {}).get("prometheusUrl", ChartValues().costReport.prometheusUrl)
    assert config.prometheus.url == url and ".svc" in url
