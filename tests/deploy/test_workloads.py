"""The generated vLLM/KServe/autoscaling manifests: strictly valid, and their sidecars configured right.

Validation is `inferwatch build`'s own: kubeconform -strict against Kubernetes's schemas
(kubernetes-validate, offline) and the KServe, prometheus-operator and KEDA CRDs bundled in
inferwatch/app/validate/schemas. Each sidecar's environment and arguments go back through the
exporter's own loader and CLI parser, and must describe the pod they sit in: the vLLM port and
scheme, the CA file mounted from KServe's certificate Secret, the metrics port, the GPU container
and the downward-API identity.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.app.commands.exporter import effective_settings, run
from inferwatch.app.context import AppContext
from inferwatch.app.validate.kubernetes import check_kubernetes
from inferwatch.config import ExporterSettings, InferwatchConfig, load_config
from inferwatch.errors import ConfigError
from inferwatch.tools import Toolbox
from inferwatch.workloads.generate import WORKLOADS_DIR, manifests
from inferwatch.workloads.sidecar import (
    DOWNWARD_FIELDS,
    METRICS_PORT_NAME,
    SIDECAR_CONTAINER,
    SIDECAR_LABEL,
    SettingNameError,
    env_name,
)
from tests.conftest import REPO_ROOT

CONFIG = load_config(REPO_ROOT / "examples" / "inferwatch.yaml", {})
# Values the kubelet would put into the downward-API variables.
POD_FIELDS = {"metadata.name": "qwen-chat-7d9f-abcde", "metadata.namespace": "llm"}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _manifest_paths() -> list[str]:
    return [a.path for a in manifests(CONFIG)]


def _kubeconform(tools: Toolbox, root: Path, rels: list[str]) -> tuple[bool, str]:
    """The check `inferwatch build` runs on Kubernetes artifacts (kubeconform -strict, offline schemas)."""
    results = [r for rel in rels for r in check_kubernetes(tools, root, rel)]
    return all(r.ok for r in results), "\n".join(r.output for r in results)


def test_every_committed_manifest_is_strictly_valid(tools: Toolbox, tmp_path: Path) -> None:
    for rel in _manifest_paths():
        total = len(_documents(REPO_ROOT / rel))
        # Checked in a scratch tree, as `inferwatch build` does (the check stages schemas beside it).
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((REPO_ROOT / rel).read_text())
        ok, out = _kubeconform(tools, tmp_path, [rel])
        # kubeconform reports a schema it cannot compile as "could not find schema": count the valid ones.
        assert ok and f"Valid: {total}, Invalid: 0, Errors: 0, Skipped: 0" in out, f"{rel}: {out}"
    kinds = {(d["apiVersion"], d["kind"]) for p in _manifest_paths() for d in _documents(REPO_ROOT / p)}
    assert {
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("serving.kserve.io/v1alpha2", "LLMInferenceService"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("resource.k8s.io/v1", "ResourceClaimTemplate"),
    } <= kinds


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pod spec (or KServe pod template) a manifest carries."""
    spec = doc["spec"]
    if doc["kind"] == "Deployment":
        return [spec["template"]["spec"]]
    if doc["kind"] == "InferenceService":
        return [spec["predictor"]]
    if doc["kind"] == "LLMInferenceService":
        return [spec["template"], *([spec["prefill"]["template"]] if "prefill" in spec else [])]
    return []


def _sidecar(pod: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in [*pod.get("initContainers", []), *pod.get("containers", [])] if c["name"] == SIDECAR_CONTAINER]
    assert len(found) == 1, pod
    return found[0]


def _sidecar_docs() -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in _manifest_paths():
        for doc in _documents(REPO_ROOT / path):
            for i, pod in enumerate(_pod_specs(doc)):
                out.append((path, i, doc, pod))
    return out


SIDECARS = _sidecar_docs()
SIDECAR_IDS = [f"{p}#{i}" for p, i, _, _ in SIDECARS]


@pytest.mark.parametrize(("path", "index", "doc", "pod"), SIDECARS, ids=SIDECAR_IDS)
def test_a_typo_in_the_sidecar_is_rejected_by_the_schema(
    tools: Toolbox, tmp_path: Path, path: str, index: int, doc: dict[str, Any], pod: dict[str, Any]
) -> None:
    # Proves the schemas are strict down to the sidecar's place in each kind of object.
    broken = copy.deepcopy(doc)
    _sidecar(_pod_specs(broken)[index])["restartPolicyy"] = "Always"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    ok, out = _kubeconform(tools, tmp_path, ["broken.yaml"])
    assert not ok and "restartPolicyy" in out, out


def resolve_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet would set it (downward API from POD_FIELDS)."""
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = POD_FIELDS[var["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def parse_back(container: dict[str, Any]) -> ExporterSettings:
    """The settings `inferwatch <args>` ends up with, given the container's environment."""
    assert container["command"] == ["inferwatch"] and container["args"][:2] == ["exporter", "run"]
    ctx = run.make_context("run", list(container["args"][2:]))
    flags = {k: v for k, v in ctx.params.items() if k != "log_format"}
    flags["gpu_uuids"] = list(flags["gpu_uuids"]) or None
    return effective_settings(AppContext(config_path=None, environ=resolve_env(container)), flags)


def _port(container: dict[str, Any], name: str | None = None) -> int:
    ports = [p["containerPort"] for p in container.get("ports", []) if name is None or p["name"] == name]
    assert len(ports) == 1, container
    return int(ports[0])


@pytest.mark.parametrize(("path", "index", "doc", "pod"), SIDECARS, ids=SIDECAR_IDS)
def test_sidecar_settings_read_back_describe_their_pod(
    path: str, index: int, doc: dict[str, Any], pod: dict[str, Any]
) -> None:
    sidecar = _sidecar(pod)
    settings = parse_back(sidecar)
    assert settings.mode == "sidecar"
    assert settings.port == _port(sidecar, METRICS_PORT_NAME)
    assert (settings.pod_name, settings.pod_namespace) == (POD_FIELDS["metadata.name"], "llm")
    assert settings.gpu_backend == CONFIG.exporter.gpu_backend
    containers = pod.get("containers", [])
    if doc["kind"] == "InferenceService":
        # KServe makes the predictor's `model` the container named kserve-container.
        containers = [{**pod["model"], "name": "kserve-container"}]
    main = [c for c in containers if c["name"] == settings.container_name]
    assert len(main) == 1, f"{settings.container_name} is not a container of the pod"
    env = resolve_env(sidecar)
    if "claims" in main[0]["resources"]:
        # DRA: the sidecar lists the GPU container's claim, so it sees that container's GPUs and
        # no others; asking the runtime for every GPU of the node would undo that.
        assert sidecar["resources"]["claims"] == main[0]["resources"]["claims"]
        assert "NVIDIA_VISIBLE_DEVICES" not in env and "nvidia.com/gpu" not in main[0]["resources"]["limits"]
    else:
        assert "nvidia.com/gpu" in main[0]["resources"]["limits"] and "claims" not in sidecar["resources"]
        if settings.gpu_backend == "nvml":
            assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    url = settings.vllm_url or ""
    if doc["kind"] == "LLMInferenceService":
        # KServe serves vLLM over TLS with its own certificate: the sidecar trusts exactly that one.
        role_port = 8001 if "prefill" in doc["spec"] and index == 0 else 8000
        assert url == f"https://localhost:{role_port}/metrics"
        mount = sidecar["volumeMounts"][0]
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == f"{doc['metadata']['name']}-kserve-self-signed-certs"
        assert settings.vllm_ca_file == f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"
        assert settings.vllm_tls_verify
    elif doc["kind"] == "InferenceService":
        assert url == "http://127.0.0.1:8080/metrics" and settings.vllm_ca_file is None
    else:
        assert url == f"http://127.0.0.1:{_port(main[0])}/metrics" and settings.vllm_ca_file is None


def test_every_variable_names_a_setting_and_a_wrong_one_is_refused() -> None:
    for _, _, _, pod in SIDECARS:
        for var in _sidecar(pod)["env"]:
            if var["name"].startswith("INFERWATCH_"):
                field = var["name"].removeprefix("INFERWATCH_EXPORTER__").lower()
                assert field in ExporterSettings.model_fields, var["name"]
    assert set(DOWNWARD_FIELDS) <= set(ExporterSettings.model_fields)
    with pytest.raises(SettingNameError):
        env_name("vllm_endpoint")
    # The exporter itself refuses a variable that names no setting (what a stale manifest would set).
    with pytest.raises(ConfigError, match=r"exporter\.vllm_endpoint"):
        load_config(None, {"INFERWATCH_EXPORTER__VLLM_ENDPOINT": "http://127.0.0.1:8000/metrics"})


def test_changed_exporter_settings_reach_every_manifest() -> None:
    config = InferwatchConfig.model_validate(
        {"exporter": {"port": 9555, "vllm_timeout_s": 1.5, "gpu_uuids": ["GPU-a", "GPU-b"], "vllm_tls_verify": True}}
    )
    for artifact in manifests(config):
        for doc in yaml.safe_load_all(artifact.content):
            for pod in _pod_specs(doc):
                settings = parse_back(_sidecar(pod))
                assert (settings.port, settings.vllm_timeout_s, settings.gpu_uuids) == (9555, 1.5, ["GPU-a", "GPU-b"])
                assert _port(_sidecar(pod), METRICS_PORT_NAME) == 9555


def test_plain_vllm_pod_is_placed_probed_and_selected() -> None:
    native, fallback, dra = (
        _documents(REPO_ROOT / WORKLOADS_DIR / "vllm" / f)
        for f in ("deployment.yaml", "deployment-sidecar-container.yaml", "deployment-dra.yaml")
    )
    for docs, is_native, is_dra in ((native, True, False), (fallback, False, False), (dra[1:], True, True)):
        deployment, service = docs
        assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
        template = deployment["spec"]["template"]
        pod = template["spec"]
        assert template["metadata"]["labels"][SIDECAR_LABEL] == "true"
        sidecar = _sidecar(pod)
        if is_native:
            assert pod["initContainers"] == [sidecar] and sidecar["restartPolicy"] == "Always"
        else:
            assert "initContainers" not in pod and "restartPolicy" not in sidecar
        vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
        assert vllm["command"] == ["vllm", "serve"]
        assert vllm["args"][vllm["args"].index("--served-model-name") + 1] == CONFIG.workload.served_model_name
        assert vllm["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        if not is_dra:  # the DRA pod's GPUs and placement: test_dra_pod_shares_one_gpu_claim_with_its_sidecar
            assert vllm["resources"]["limits"]["nvidia.com/gpu"] == str(CONFIG.workload.gpus_per_pod)
            assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def _dra_objects(config: InferwatchConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ResourceClaimTemplate and the Deployment of vllm/deployment-dra.yaml as generated for `config`."""
    (artifact,) = [a for a in manifests(config) if a.path.endswith("vllm/deployment-dra.yaml")]
    template, deployment, _service = (d for d in yaml.safe_load_all(artifact.content) if d)
    return template, deployment


@pytest.mark.parametrize(
    ("workload", "device_class", "count"),
    [({}, "gpu.nvidia.com", 1), ({"dra_device_class": "h100.example.com", "gpus_per_pod": 4}, "h100.example.com", 4)],
    ids=["default", "configured"],
)
def test_dra_pod_shares_one_gpu_claim_with_its_sidecar(workload: dict[str, Any], device_class: str, count: int) -> None:
    template, deployment = _dra_objects(InferwatchConfig.model_validate({"workload": workload}))
    assert (template["apiVersion"], template["kind"]) == ("resource.k8s.io/v1", "ResourceClaimTemplate")
    assert template["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    (request,) = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"] == {"deviceClassName": device_class, "allocationMode": "ExactCount", "count": count}
    pod = deployment["spec"]["template"]["spec"]
    # One claim, made per pod from the template, and listed by vLLM and the sidecar alike.
    (claim,) = pod["resourceClaims"]
    assert claim == {"name": claim["name"], "resourceClaimTemplateName": template["metadata"]["name"]}
    vllm = next(c for c in pod["containers"] if c["name"] == "vllm")
    sidecar = _sidecar(pod)
    assert vllm["resources"]["claims"] == sidecar["resources"]["claims"] == [{"name": claim["name"]}]
    # Nothing else hands out GPUs: no device-plugin resource, no runtime variable for every GPU.
    for container in (vllm, sidecar):
        assert not any(
            k.startswith("nvidia.com/") for part in ("requests", "limits") for k in container["resources"][part]
        )
        assert not any(v["name"].startswith("NVIDIA_") for v in container.get("env", [])), container["name"]
    # The scheduler places the pod where the claim's devices are; GPU Feature Discovery's label is not needed.
    assert "nodeSelector" not in pod
    assert parse_back(sidecar).gpu_backend == "nvml"


def test_dra_manifest_needs_kubernetes_1_34(tools: Toolbox, tmp_path: Path) -> None:
    rel = f"{WORKLOADS_DIR}/vllm/deployment-dra.yaml"
    assert "Kubernetes >= 1.34" in (REPO_ROOT / rel).read_text().split("\napiVersion:", 1)[0]
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text((REPO_ROOT / rel).read_text())
    # 1.34 is the first release serving resource.k8s.io/v1; its schemas accept every field used.
    results = check_kubernetes(tools, tmp_path, rel, kubernetes_version="1.34")
    assert all(r.ok for r in results), "\n".join(r.output for r in results)
    [older] = check_kubernetes(tools, tmp_path, rel, kubernetes_version="1.33")
    assert not older.ok and "could not find schema for ResourceClaimTemplate" in older.output, older.output


def test_llminferenceservice_pod_monitor_scrapes_the_sidecar_of_kserve_pods() -> None:
    for name in ("llminferenceservice.yaml", "llminferenceservice-pd.yaml"):
        llmisvc, monitor = _documents(REPO_ROOT / WORKLOADS_DIR / "kserve" / name)
        assert llmisvc["apiVersion"] == "serving.kserve.io/v1alpha2"
        assert monitor["kind"] == "PodMonitor" and monitor["metadata"]["namespace"] == llmisvc["metadata"]["namespace"]
        # The labels KServe's controller puts on every pod it creates for this service.
        assert monitor["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/part-of": "llminferenceservice",
            "app.kubernetes.io/name": llmisvc["metadata"]["name"],
        }
        assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == [METRICS_PORT_NAME]
        assert ("prefill" in llmisvc["spec"]) == name.endswith("-pd.yaml")


def test_manifest_names_are_kubernetes_names() -> None:
    for path in _manifest_paths():
        for doc in _documents(REPO_ROOT / path):
            assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"]), path


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SERVED_MODEL_NAME", "Qwen/Qwen2.5-1.5B-Instruct"), ("DRA_DEVICE_CLASS", "GPU.nvidia.com")],
)
def test_bad_workload_settings_name_the_field(variable: str, value: str) -> None:
    result = CliRunner().invoke(cli, ["config", "check"], env={f"INFERWATCH_WORKLOAD__{variable}": value})
    assert result.exit_code == 2
    assert f"workload.{variable.lower()}" in result.output


@pytest.mark.parametrize("doc", ["docs/deploy.md", "docs/autoscaling.md"])
def test_docs_link_to_files_that_exist(doc: str) -> None:
    text = (REPO_ROOT / doc).read_text()
    links = re.findall(r"\]\((\.\./[^)#]+)\)", text)
    assert links
    for link in links:
        assert (REPO_ROOT / "docs" / link).resolve().exists(), link
    # Every generated manifest is shown in the workloads page.
    if doc == "docs/deploy.md":
        for path in _manifest_paths():
            if "/autoscaling/" not in path:
                assert path.removeprefix("deploy/workloads/") in text, path


def test_the_charts_pod_monitor_selects_these_sidecars() -> None:
    """The Helm chart's PodMonitor (deploy/helm, another branch until merged) finds the sidecars written here."""
    values_file = REPO_ROOT / "deploy" / "helm" / "inferwatch" / "values.yaml"
    if not values_file.is_file():
        pytest.skip("the Helm chart is not in this checkout yet")
    pod_monitor = yaml.safe_load(values_file.read_text())["monitoring"]["podMonitor"]
    assert (pod_monitor["podLabel"], pod_monitor["portName"]) == (SIDECAR_LABEL, METRICS_PORT_NAME)


def _quantity(text: str) -> float:
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_scalers_use_the_configured_targets_and_never_read_no_data_as_idle() -> None:
    scaling = CONFIG.workload.autoscaling
    targets = {"waiting-requests": scaling.waiting_requests_per_pod, "kv-cache-usage": scaling.kv_cache_usage_ratio}
    (keda,) = _documents(REPO_ROOT / WORKLOADS_DIR / "autoscaling" / "keda-scaledobject.yaml")
    assert keda["spec"]["scaleTargetRef"]["name"] == CONFIG.workload.name
    assert keda["spec"]["fallback"]["replicas"] == scaling.fallback_replicas
    for trigger in keda["spec"]["triggers"]:
        assert trigger["metricType"] == "AverageValue"  # KEDA's fallback works only with AverageValue
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert float(trigger["metadata"]["threshold"]) == targets[trigger["name"]]
        assert trigger["metadata"]["serverAddress"] == scaling.prometheus_url
    (hpa,) = _documents(REPO_ROOT / WORKLOADS_DIR / "autoscaling" / "hpa.yaml")
    got = sorted(_quantity(m["external"]["target"]["averageValue"]) for m in hpa["spec"]["metrics"])
    assert got == sorted(targets.values())
    for m in hpa["spec"]["metrics"]:
        assert m["external"]["metric"]["selector"] == {"matchLabels": {"model_name": CONFIG.workload.served_model_name}}


@pytest.mark.parametrize(
    ("autoscaling", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "below min_replicas"),
        ({"fallback_replicas": 9}, "fallback_replicas 9 must lie between"),
    ],
)
def test_inconsistent_autoscaling_is_refused(autoscaling: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InferwatchConfig.model_validate({"workload": {"autoscaling": autoscaling}})


SIDECAR_WEB = {
    "secret": "qwen-chat-web",
    "tls": True,
    "server_name": "qwen-chat.llm.svc",
    "basic_auth_secret": "scrape",
}


def test_sidecar_web_configuration_reaches_every_sidecar_and_the_pod_monitor(tools: Toolbox, tmp_path: Path) -> None:
    """workload.sidecar_web: the Secret mounted, its file named by the settings, HTTPS probes, a matching PodMonitor;
    every manifest still strictly valid."""
    config = InferwatchConfig.model_validate({"workload": {"sidecar_web": SIDECAR_WEB}})
    for artifact in manifests(config):
        (tmp_path / artifact.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / artifact.path).write_text(artifact.content)
        ok, out = _kubeconform(tools, tmp_path, [artifact.path])
        assert ok, f"{artifact.path}: {out}"
        for doc in yaml.safe_load_all(artifact.content):
            for pod in _pod_specs(doc):
                sidecar = _sidecar(pod)
                assert parse_back(sidecar).web_config_file == "/etc/inferwatch-web/web-config.yml"
                (mount,) = [m for m in sidecar["volumeMounts"] if m["mountPath"] == "/etc/inferwatch-web"]
                assert {"name": mount["name"], "secret": {"secretName": "qwen-chat-web"}} in pod["volumes"]
                assert sidecar["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
            if doc.get("kind") == "PodMonitor":
                (endpoint,) = doc["spec"]["podMetricsEndpoints"]
                assert endpoint["scheme"] == "https" and endpoint["tlsConfig"]["serverName"] == "qwen-chat.llm.svc"
                assert endpoint["basicAuth"]["password"] == {"name": "scrape", "key": "password"}


def test_without_sidecar_web_the_manifests_are_unchanged() -> None:
    """The default: no web configuration, so no variable, volume or scheme is added (build --check holds)."""
    for artifact in manifests(CONFIG):
        assert "inferwatch-web" not in artifact.content and "WEB_CONFIG_FILE" not in artifact.content
