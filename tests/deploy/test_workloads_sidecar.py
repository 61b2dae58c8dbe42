"""Each manifest's sidecar, started here as its pod would start it, serves the exporter's contract.

For every sidecar of every generated manifest (plain vLLM both ways, InferenceService,
LLMInferenceService and both roles of its prefill/decode variant) the test runs, inside a fresh
network namespace like a pod's, llm-d-inference-sim on the loopback port and scheme the sidecar's
vLLM URL names (HTTPS with a self-signed, CA:FALSE certificate for localhost and 127.0.0.1, as
KServe makes one, where the manifest says https) and the exporter with the container's command,
arguments and environment. Two settings are replaced: the GPU backend (simulated GPUs; this
machine has none) and, for HTTPS, where the CA file lies (the manifest's path is a Secret mount).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.localstack.ports import free_port
from inferwatch.tools import Toolbox
from tests.conftest import REPO_ROOT
from tests.deploy.test_workloads import CONFIG, POD_FIELDS, SIDECAR_IDS, SIDECARS, _sidecar, parse_back, resolve_env
from tests.support.exporter import CONTRACT_GPU_SERIES

OVERRIDES = {"INFERWATCH_EXPORTER__GPU_BACKEND": "simulated", "INFERWATCH_EXPORTER__SIMULATED_NVML_LATENCIES": "false"}


def _netns_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0


NETNS = _netns_available()


def _kserve_like_certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed serving certificate like KServe's: not a CA, names localhost and 127.0.0.1."""
    cert, key = workdir / "tls.crt", workdir / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/O=Kserve Self Signed", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "keyUsage=digitalSignature,keyEncipherment",
         "-addext", "extendedKeyUsage=serverAuth"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def run_pod(
    tools: Toolbox, tmp_path: Path, sidecar: dict[str, Any], *, wrong_ca: bool = False
) -> tuple[dict[str, list[tuple[dict[str, str], float]]], str]:
    """Start the simulator and `sidecar` as in their pod; return the sidecar's /metrics and the logs."""
    settings = parse_back(sidecar)
    assert settings.vllm_url is not None
    vllm = urlsplit(settings.vllm_url)
    vllm_port, exporter_port = vllm.port or 80, settings.port
    env = {**resolve_env(sidecar), **OVERRIDES}
    if not NETNS:
        # No network namespaces here: the same processes on free ports instead of the pod's own.
        vllm_port, exporter_port = free_port(), free_port()
        env["INFERWATCH_EXPORTER__VLLM_URL"] = settings.vllm_url.replace(f":{vllm.port}/", f":{vllm_port}/")
        env["INFERWATCH_EXPORTER__PORT"] = str(exporter_port)
    model = CONFIG.workload.served_model_name
    sim_argv = [str(tools.path("llm-d-inference-sim")), "--port", str(vllm_port), "--model", model]
    ca: str | None = None
    if vllm.scheme == "https":
        cert, key = _kserve_like_certificate(tmp_path)
        sim_argv += ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
        assert env["INFERWATCH_EXPORTER__VLLM_CA_FILE"] == settings.vllm_ca_file
        env["INFERWATCH_EXPORTER__VLLM_CA_FILE"] = ca = str(cert)
        if wrong_ca:
            (tmp_path / "other").mkdir()
            other, _ = _kserve_like_certificate(tmp_path / "other")
            env["INFERWATCH_EXPORTER__VLLM_CA_FILE"] = str(other)
    out = tmp_path / "metrics.txt"
    exporter: dict[str, Any] = {
        "argv": [sys.executable, "-m", "inferwatch", *sidecar["args"]],
        "env": env,
        "url": f"http://127.0.0.1:{exporter_port}",
    }
    if wrong_ca:
        exporter["wait_for"] = 'inferwatch_vllm_scrape_errors_total{reason="connection"}'
    spec = {
        "workdir": str(tmp_path),
        "netns": NETNS,
        "out": str(out),
        "sims": [{"argv": sim_argv, "ready_url": f"{vllm.scheme}://{vllm.hostname}:{vllm_port}/metrics", "ca": ca}],
        "exporter": exporter,
    }
    (tmp_path / "pod.json").write_text(json.dumps(spec))
    runner = [sys.executable, "-m", "tests.deploy.workloads_pod", str(tmp_path / "pod.json")]
    proc = subprocess.run(
        ["unshare", "-rn", *runner] if NETNS else runner, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(tmp_path.glob("*.log")))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{logs}"
    return _metrics(out.read_text()), logs


@pytest.mark.slow
@pytest.mark.parametrize(("path", "index", "doc", "pod"), SIDECARS, ids=SIDECAR_IDS)
def test_sidecar_started_as_in_its_pod_serves_the_contract(
    tools: Toolbox, tmp_path: Path, path: str, index: int, doc: dict[str, Any], pod: dict[str, Any]
) -> None:
    sidecar = _sidecar(pod)
    settings = parse_back(sidecar)
    metrics, logs = run_pod(tools, tmp_path, sidecar)
    model = CONFIG.workload.served_model_name
    assert metrics["inferwatch_vllm_up"] == [({}, 1.0)], logs
    for name in CONTRACT_GPU_SERIES:
        assert name in metrics, f"{name} missing from the sidecar of {path}"
    # vLLM's own series pass through, labelled with the served model name the autoscaler selects.
    assert {labels["model_name"] for labels, _ in metrics["vllm:num_requests_waiting"]} == {model}
    assert "vllm:kv_cache_usage_perc" in metrics
    # The downward API's identity reaches the attribution series.
    holders = {(lb["namespace"], lb["pod"], lb["container"]) for lb, _ in metrics["inferwatch_gpu_allocation_ratio"]}
    assert holders == {(POD_FIELDS["metadata.namespace"], POD_FIELDS["metadata.name"], settings.container_name)}


@pytest.mark.slow
def test_llminferenceservice_sidecar_refuses_a_certificate_its_ca_did_not_sign(tools: Toolbox, tmp_path: Path) -> None:
    doc = next(d for p, _, d, _ in SIDECARS if p.endswith("kserve/llminferenceservice.yaml"))
    metrics, logs = run_pod(tools, tmp_path, _sidecar(doc["spec"]["template"]), wrong_ca=True)
    assert metrics["inferwatch_vllm_up"] == [({}, 0.0)], logs
    assert "vllm:num_requests_waiting" not in metrics
    errors = {lb["reason"]: v for lb, v in metrics["inferwatch_vllm_scrape_errors_total"]}
    assert errors.get("connection", 0) >= 1, errors
