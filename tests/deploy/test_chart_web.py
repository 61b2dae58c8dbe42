"""The chart's security values: the exporter's TLS and basic auth (or kube-rbac-proxy) with the matching
ServiceMonitor, the cost report's way into an authenticated Prometheus, and no credential in values or
ConfigMaps. The CI permutations are ci/exporter-tls-values.yaml and ci/kube-rbac-proxy-values.yaml.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from inferwatch.app.chart.values import render_values_yaml, without_credentials
from inferwatch.config import parse_config
from inferwatch.exporters.web.config import WebConfig
from inferwatch.tools import Toolbox
from tests.deploy.chart_support import (
    CHART,
    NAMESPACE,
    HelmFailed,
    assert_served,
    container,
    helm_template,
    mounted_volume,
    objects,
    one,
    pod_spec,
    prometheus_files,
)
from tests.support.certs import TestCA
from tests.support.exporter import exporter_process


def _render(tools: Toolbox, values: str, *sets: str) -> list[dict[str, Any]]:
    args = ["-f", str(CHART / "ci" / values)]
    for s in sets:
        args += ["--set", s]
    return objects(helm_template(tools, *args))


def test_exporter_tls_and_basic_auth_match_the_service_monitor(tools: Toolbox) -> None:
    objs = _render(tools, "exporter-tls-values.yaml")
    ds = one(objs, "DaemonSet", "-exporter")
    exporter = container(ds, "exporter")
    args = exporter["args"]
    web_file = args[args.index("--web.config.file") + 1]
    web_secret = mounted_volume(ds, exporter, web_file)["secret"]["secretName"]
    mounts = [m["mountPath"] for m in exporter["volumeMounts"]]
    assert not [a for a in mounts for b in mounts if a != b and a.startswith(b + "/")], "nested mounts"
    web = WebConfig.model_validate(yaml.safe_load(one(objs, "Secret", web_secret)["stringData"]["web-config.yml"]))
    assert set(web.basic_auth_users) == {"prometheus"}
    tls_volume = mounted_volume(ds, exporter, web.tls_server_config.cert_file)
    assert mounted_volume(ds, exporter, web.tls_server_config.key_file) == tls_volume
    certificate = one(objs, "Certificate")
    assert tls_volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert exporter[probe]["httpGet"]["scheme"] == "HTTPS"
    (endpoint,) = one(objs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": certificate["spec"]["secretName"], "key": "ca.crt"}
    assert endpoint["tlsConfig"]["serverName"] in certificate["spec"]["dnsNames"]
    assert endpoint["basicAuth"]["password"] == {"name": "inferwatch-scrape", "key": "password"}


def test_kube_rbac_proxy_fronts_the_exporter_as_kube_prometheus_does(tools: Toolbox) -> None:
    objs = _render(tools, "kube-rbac-proxy-values.yaml")
    ds = one(objs, "DaemonSet", "-exporter")
    exporter, proxy = container(ds, "exporter"), container(ds, "kube-rbac-proxy")
    env = {e["name"]: e.get("value") for e in exporter["env"]}
    assert env["INFERWATCH_EXPORTER__LISTEN_HOST"] == "127.0.0.1" and "ports" not in exporter
    assert f"--upstream=http://127.0.0.1:{env['INFERWATCH_EXPORTER__PORT']}/" in proxy["args"]
    assert "--ignore-paths=/healthz,/readyz" in proxy["args"]
    assert proxy["ports"][0]["name"] == "metrics"
    assert exporter["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 9400, "scheme": "HTTPS"}
    # Only the proxy holds an API token; the pod does not mount one for every container.
    assert pod_spec(ds)["automountServiceAccountToken"] is False
    assert [m["name"] for m in proxy["volumeMounts"]] == ["kube-api-access"]
    assert all(m["name"] != "kube-api-access" for m in exporter["volumeMounts"])
    role = one(objs, "ClusterRole", f"-kube-rbac-proxy-{NAMESPACE}")
    assert {r["resources"][0] for r in role["rules"]} == {"tokenreviews", "subjectaccessreviews"}
    binding = one(objs, "ClusterRoleBinding", f"-kube-rbac-proxy-{NAMESPACE}")
    assert binding["subjects"][0]["name"] == pod_spec(ds)["serviceAccountName"]
    (endpoint,) = one(objs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https" and endpoint["bearerTokenFile"].endswith("/serviceaccount/token")
    egress = one(objs, "NetworkPolicy", "-exporter")["spec"]["egress"]
    assert {p["port"] for rule in egress for p in rule.get("ports", [])} >= {443, 6443}


@pytest.mark.parametrize("values", ["exporter-tls-values.yaml", "kube-rbac-proxy-values.yaml"])
def test_cost_report_reads_its_credentials_from_mounted_files(tools: Toolbox, values: str, tmp_path: Path) -> None:
    """Every file the mounted inferwatch.yaml's prometheus: names is served by a volume of the CronJob."""
    objs = _render(tools, values)
    config = parse_config(yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"]), "cm")
    cronjob = one(objs, "CronJob")
    p = config.prometheus
    assert_served(cronjob, container(cronjob, "cost-report"), prometheus_files(p))
    assert p.http_headers["X-Scope-OrgID"].values
    assert pod_spec(cronjob)["automountServiceAccountToken"] is False


def test_service_account_token_for_openshift_binds_the_cluster_role(tools: Toolbox) -> None:
    objs = _render(tools, "exporter-tls-values.yaml")
    binding = one(objs, "ClusterRoleBinding", f"-prometheus-reader-{NAMESPACE}")
    assert binding["roleRef"]["name"] == "cluster-monitoring-view"
    token = next(v for v in pod_spec(one(objs, "CronJob"))["volumes"] if v["name"] == "prometheus-token")
    assert token["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (("exporter.web.tls.enabled=true",), "exporter.web.tls: enable certManager or name an existingSecret"),
        (("exporter.web.tls.enabled=true", "exporter.web.tls.certManager.enabled=true"), "issuerRef.name"),
        (("exporter.web.basicAuth.enabled=true",), "exporter.web.basicAuth: set users"),
        (
            ("exporter.web.kubeRbacProxy.enabled=true", "exporter.web.basicAuth.enabled=true",
             "exporter.web.basicAuth.existingSecret=s", "exporter.web.basicAuth.users.p=$2b$10$x"),
            "basicAuth and kubeRbacProxy exclude each other",
        ),
        (
            ("prometheusClient.serviceAccountToken.enabled=true", "prometheusClient.basicAuth.existingSecret=s"),
            "serviceAccountToken and basicAuth exclude each other",
        ),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_are_refused(tools: Toolbox, sets: tuple[str, ...], words: str) -> None:
    with pytest.raises(HelmFailed, match=words.replace(".", r"\.")):
        _render(tools, "default-values.yaml", *sets)


def test_no_credential_reaches_the_charts_values(caplog: pytest.LogCaptureFixture) -> None:
    """An inferwatch.yaml with inline secrets builds a chart whose values hold none of them (nor file paths)."""
    config = parse_config(
        {
            "prometheus": {
                "url": "https://mimir.example/prometheus",
                "basic_auth": {"username": "reader", "password": "inline-pa55word"},
                "http_headers": {"X-Scope-OrgID": {"values": ["team-a"], "secrets": ["tenant-key-value"]}},
                "proxy_url": "http://u:proxy-pa55@proxy.example:3128",
            }
        },
        "x.yaml",
    )
    text = render_values_yaml(config)
    for secret in ("inline-pa55word", "tenant-key-value", "proxy-pa55", "<secret>"):
        assert secret not in text
    prometheus = yaml.safe_load(text)["inferwatch"]["prometheus"]
    assert "basic_auth" not in prometheus and "proxy_url" not in prometheus
    assert prometheus["http_headers"] == {"X-Scope-OrgID": {"values": ["team-a"], "secrets": [], "files": []}}
    assert without_credentials(config).prometheus.basic_auth is None
    assert "prometheus.basic_auth is left out of the chart's values" in caplog.text


# ---------------------------------------------------------------- the helm test hook, for real


@pytest.fixture
def secured_exporter(tmp_path: Path) -> Iterator[tuple[str, TestCA, Path]]:
    ca = TestCA(tmp_path / "pki")
    ca.issue("server")
    hashed = bcrypt.hashpw(b"hook-pa55", bcrypt.gensalt(4)).decode()
    web = tmp_path / "pki" / "web.yml"
    web.write_text(yaml.safe_dump({"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
                                   "basic_auth_users": {"prometheus": hashed}}))  # fmt: skip
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "username").write_text("prometheus\n")
    (creds / "password").write_text("hook-pa55\n")
    args = ["--gpu-backend", "simulated", "--web.config.file", str(web)]
    with exporter_process(tmp_path / "exporter", args, tls=ssl.create_default_context(cafile=str(ca.ca_file))) as exp:
        yield exp.url + "/metrics", ca, creds


def test_helm_test_hook_passes_with_the_scrape_credentials_only(
    tools: Toolbox, secured_exporter: tuple[str, TestCA, Path]
) -> None:
    url, ca, creds = secured_exporter
    pod = one(_render(tools, "exporter-tls-values.yaml"), "Pod", "-test-metrics")
    command = pod["spec"]["containers"][0]["command"]
    script, rendered_args = command[2], command[3:]
    assert rendered_args[0].startswith("https://") and "--secured" in rendered_args
    ok = subprocess.run([sys.executable, "-c", script, url, "--ca", str(ca.ca_file), "--secured",
                         "--credentials", str(creds)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (creds / "password").write_text("wrong\n")
    bad = subprocess.run([sys.executable, "-c", script, url, "--ca", str(ca.ca_file), "--credentials", str(creds)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and "HTTP 401" in bad.stderr


def test_notes_say_how_to_scrape_the_secured_exporter(tools: Toolbox, tmp_path: Path) -> None:
    from tests.deploy.test_chart import _notes

    tls = _notes(tools, tmp_path / "tls", "-f", str(CHART / "ci" / "exporter-tls-values.yaml"))
    assert "curl -sk -u" in tls and "get secret inferwatch-scrape" in tls and "https://127.0.0.1:9400/metrics" in tls
    proxy = _notes(tools, tmp_path / "proxy", "-f", str(CHART / "ci" / "kube-rbac-proxy-values.yaml"))
    assert "Authorization: Bearer $(kubectl -n monitoring create token" in proxy


def test_documented_tls_scrape_config_is_valid_and_matches_the_chart(tools: Toolbox, tmp_path: Path) -> None:
    doc = (CHART.parents[2] / "docs" / "deploy.md").read_text()
    block = doc.split("<!-- scrape-config-tls -->\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "prometheus.yml").write_text(block)
    proc = tools.run("promtool", "check", "config", "--syntax-only", str(tmp_path / "prometheus.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (job,) = yaml.safe_load(block)["scrape_configs"]
    certificate = one(_render(tools, "exporter-tls-values.yaml"), "Certificate")
    assert job["scheme"] == "https" and job["tls_config"]["server_name"] in certificate["spec"]["dnsNames"]
    assert job["basic_auth"]["username"] == "prometheus" and "password_file" in job["basic_auth"]


def test_the_same_release_in_two_namespaces_shares_no_cluster_scoped_object(tools: Toolbox) -> None:
    """Two teams installing release "inferwatch" in their own namespaces: a ClusterRole or binding of
    one must not be the other's (helm would refuse the second install, or the first's would be rebound)."""

    def names(values: Path, namespace: str) -> set[str]:
        objs = objects(helm_template(tools, "-f", str(values), "--namespace", namespace))
        cluster_scoped = ("ClusterRole", "ClusterRoleBinding")
        return {f"{o['kind']}/{o['metadata']['name']}" for o in objs if o["kind"] in cluster_scoped}

    seen: set[str] = set()
    for values in sorted((CHART / "ci").glob("*-values.yaml")):
        team_a, team_b = names(values, "team-a"), names(values, "team-b")
        assert not team_a & team_b, f"{values.name}: shared by both releases: {sorted(team_a & team_b)}"
        seen |= team_a
    # The values files exercise every cluster-scoped object the chart has.
    for role in ("-kube-rbac-proxy-team-a", "-prometheus-reader-team-a", "-controller-team-a"):
        assert any(name.endswith(role) for name in seen), (role, sorted(seen))
