"""The Prometheus client's HTTP side: credentials and headers sent, files checked at the edge, answers
turned into one-line errors, retries logged one line each, secrets in no message.

Against the misbehaving endpoint (tests/support/misbehaving.py), which records each request's
headers; the real Prometheus behind TLS, basic auth, a token and a tenant proxy is in
tests/test_prometheus_auth_e2e.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from inferwatch.app.cli import cli
from inferwatch.config import PrometheusSettings, parse_config
from inferwatch.errors import ConfigError
from inferwatch.prom import PrometheusAuthError, PrometheusReader, reader_for
from inferwatch.promhttp import body_excerpt, check_client_files
from tests.support.certs import TestCA
from tests.support.misbehaving import Misbehaving

SPEC = {"name": "chat-ttft", "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 1.0}}
PASSWORD = "s3cr3t-pa55word"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.token-value"


def _run(tmp_path: Path, prometheus: dict[str, Any], *args: str) -> Result:
    config = tmp_path / "inferwatch.yaml"
    config.write_text(
        yaml.safe_dump({"prometheus": {"retries": 2, "retry_backoff_s": 0, **prometheus}, "slos": [SPEC]})
    )
    return CliRunner().invoke(cli, ["-c", str(config), *(args or ("slo", "status", "--output", "json"))])


def _secret_file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


# ---------------------------------------------------------------- what is sent


def test_token_file_is_read_again_for_every_request(misbehaving_prometheus: str, tmp_path: Path) -> None:
    """A projected ServiceAccount token rotates under a running job: the next request sends the new one."""
    Misbehaving.mode = "empty"
    token = tmp_path / "token"
    token.write_text("first-token\n")
    reader = PrometheusReader(
        PrometheusSettings(url=misbehaving_prometheus, authorization={"credentials_file": str(token)})
    )
    reader.query("up")
    token.write_text("second-token\n")
    reader.query("up")
    assert [h["Authorization"] for h in Misbehaving.seen] == ["Bearer first-token", "Bearer second-token"]


def test_basic_auth_and_tenant_headers_are_sent(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "empty"
    settings = PrometheusSettings(
        url=misbehaving_prometheus,
        basic_auth={"username": "reader", "password_file": _secret_file(tmp_path, "pw", PASSWORD + "\n")},
        http_headers={
            "X-Scope-OrgID": {"values": ["team-a"]},
            "X-Api-Key": {"secrets": ["key-1"], "files": [_secret_file(tmp_path, "key2", "key-2\n")]},
        },
    )
    PrometheusReader(settings).query("up")
    seen = Misbehaving.seen[0]
    assert seen["Authorization"].startswith("Basic ") and seen["X-Scope-OrgID"] == "team-a"
    assert seen["X-Api-Key"] == "key-1, key-2"


def test_http_proxy_url_is_used(misbehaving_prometheus: str) -> None:
    """proxy_url sends the request through the proxy (here the endpoint itself, which answers any path)."""
    Misbehaving.mode = "empty"
    PrometheusReader(PrometheusSettings(url="http://prometheus.invalid:9090", proxy_url=misbehaving_prometheus)).query(
        "up"
    )
    assert Misbehaving.hits == 1


# ---------------------------------------------------------------- answers that are not the API's


def test_401_exits_3_saying_authentication_failed_and_which_setting(
    misbehaving_prometheus: str, tmp_path: Path
) -> None:
    Misbehaving.mode = "401"
    res = _run(tmp_path, {"url": misbehaving_prometheus, "basic_auth": {"username": "reader", "password": PASSWORD}})
    assert res.exit_code == 3, res.output
    message = res.output.strip().splitlines()[-1]
    assert "authentication failed" in message and "HTTP 401 Unauthorized" in message
    assert "prometheus.basic_auth (username 'reader', password)" in message
    # Mimir's answer without a tenant: the message points at the header too.
    assert "prometheus.http_headers.X-Scope-OrgID" in message
    assert Misbehaving.hits == 1, "a 401 answers the same the next time: not retried"
    assert PASSWORD not in res.output


def test_401_without_credentials_says_none_are_set(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "401"
    res = _run(tmp_path, {"url": misbehaving_prometheus})
    assert res.exit_code == 3
    assert "prometheus.authorization or prometheus.basic_auth (neither is set)" in res.output


def test_403_says_authenticated_but_not_allowed(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "403"
    token = _secret_file(tmp_path, "token", TOKEN)
    res = _run(tmp_path, {"url": misbehaving_prometheus, "authorization": {"credentials_file": token}})
    assert res.exit_code == 3, res.output
    assert "authenticated, but not allowed (HTTP 403 Forbidden" in res.output
    assert f"prometheus.authorization (Bearer, credentials_file {token})" in res.output
    assert TOKEN not in res.output


def test_501_html_page_is_a_status_and_a_printable_excerpt(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "501"
    res = _run(tmp_path, {"url": misbehaving_prometheus})
    assert res.exit_code == 3, res.output
    assert "HTTP 501 Not Implemented" in res.output and "501 Not Implemented: Not Implemented" in res.output
    for raw in ("<html", "<title", "b'", "\x1b", "\x00", "body{x:y}"):
        assert raw not in res.output
    assert Misbehaving.hits == 1


def test_json_of_another_api_is_not_a_prometheus_answer(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "other-json"
    res = _run(tmp_path, {"url": misbehaving_prometheus})
    assert res.exit_code == 3 and "not a Prometheus API answer" in res.output


def test_503_is_retried_with_one_log_line_per_attempt(
    misbehaving_prometheus: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Misbehaving.mode = "503"
    with caplog.at_level(logging.DEBUG):
        res = _run(tmp_path, {"url": misbehaving_prometheus})
    assert res.exit_code == 3 and "HTTP 503 Service Unavailable after 3 attempt(s)" in res.output
    lines = [r.getMessage() for r in caplog.records if r.name == "inferwatch.promhttp"]
    assert len(lines) == 2 and "attempt=1/3" in lines[0] and "attempt=2/3" in lines[1], lines
    assert all("cause=HTTP 503" in line and "\n" not in line for line in lines)
    assert not any(r.getMessage().startswith("Retrying (") for r in caplog.records), "urllib3's own warning"


def test_unreachable_prometheus_logs_each_attempt_in_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from inferwatch.localstack.ports import free_port

    with caplog.at_level(logging.WARNING):
        res = _run(tmp_path, {"url": f"http://127.0.0.1:{free_port()}"})
    assert res.exit_code == 3 and "did not answer" in res.output
    lines = [r.getMessage() for r in caplog.records if r.name == "inferwatch.promhttp"]
    assert len(lines) == 2 and all("object at 0x" not in line and "Retry(" not in line for line in lines), lines


def test_a_secret_echoed_back_by_a_proxy_is_redacted(misbehaving_prometheus: str, tmp_path: Path) -> None:
    Misbehaving.mode = "echo401"
    res = _run(
        tmp_path,
        {
            "url": misbehaving_prometheus,
            "authorization": {"credentials": TOKEN},
            "http_headers": {"X-Tenant-Key": {"secrets": ["tenant-secret-value"]}},
        },
    )
    assert res.exit_code == 3
    assert TOKEN not in res.output and "tenant-secret-value" not in res.output
    assert "<secret>" in res.output


def test_a_secret_at_the_cut_of_an_excerpt_is_redacted_whole() -> None:
    from inferwatch.promhttp import ClientSecrets

    secrets = ClientSecrets()
    secrets.add(TOKEN)
    text = body_excerpt(("x" * 155 + TOKEN).encode(), "text/plain", redact=secrets.redact)
    assert TOKEN[:3] not in text and text.endswith("<sec…")


def test_body_excerpt_of_binary_garbage_is_printable() -> None:
    text = body_excerpt(bytes(range(256)) * 10, "application/octet-stream")
    assert text.isprintable() and len(text) <= 160


# ---------------------------------------------------------------- hostile settings: exit 2 naming the field


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "pki")


def _hostile(tmp_path: Path, ca: TestCA) -> dict[str, tuple[dict[str, Any], str]]:
    now = dt.datetime.now(dt.UTC)
    expired = ca.issue(
        "old-client", client=True, not_before=now - dt.timedelta(days=9), not_after=now - dt.timedelta(days=1)
    )
    other = TestCA(tmp_path / "other").issue("client", client=True)
    garbage = _secret_file(tmp_path, "garbage.pem", "not a certificate\n")
    return {
        "missing token file": (
            {"authorization": {"credentials_file": str(tmp_path / "nope")}},
            "prometheus.authorization.credentials_file",
        ),
        "password file with a line break": (
            {"basic_auth": {"username": "u", "password_file": _secret_file(tmp_path, "pw", "one\ntwo\n")}},
            "prometheus.basic_auth.password_file",
        ),
        "password with a line break": (
            {"basic_auth": {"username": "u", "password": "a\r\nX-Evil: 1"}},
            "prometheus.basic_auth.password",
        ),
        "CA that is no certificate": ({"tls_config": {"ca_file": garbage}}, "prometheus.tls_config.ca_file"),
        "CA that is a folder": ({"tls_config": {"ca_file": str(tmp_path)}}, "prometheus.tls_config.ca_file"),
        "expired client certificate": (
            {"tls_config": {"cert_file": str(expired.cert), "key_file": str(expired.key)}},
            "prometheus.tls_config.cert_file",
        ),
        "key of another certificate": (
            {"tls_config": {"cert_file": str(expired.cert), "key_file": str(other.key)}},
            "prometheus.tls_config.cert_file",
        ),
        "certificate without its key": ({"tls_config": {"cert_file": str(other.cert)}}, "prometheus.tls_config"),
        "reserved header": ({"http_headers": {"Authorization": {"values": ["x"]}}}, "prometheus.http_headers"),
        "two ways to authenticate": (
            {"authorization": {"credentials": "x"}, "basic_auth": {"username": "u", "password": "p"}},
            "prometheus",
        ),
        "Basic as an authorization type": (
            {"authorization": {"type": "Basic", "credentials": "x"}},
            "prometheus.authorization.type",
        ),
        "password in the URL": ({"url": "http://u:hunter22@127.0.0.1:9090"}, "prometheus.url"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing token file",
        "password file with a line break",
        "password with a line break",
        "CA that is no certificate",
        "CA that is a folder",
        "expired client certificate",
        "key of another certificate",
        "certificate without its key",
        "reserved header",
        "two ways to authenticate",
        "Basic as an authorization type",
        "password in the URL",
    ],
)
def test_hostile_settings_exit_2_naming_the_field(case: str, tmp_path: Path, ca: TestCA) -> None:
    settings, field = _hostile(tmp_path, ca)[case]
    res = _run(tmp_path, {"url": "https://127.0.0.1:1", **settings})
    assert res.exit_code == 2, res.output
    assert field in res.output, res.output
    for secret in ("hunter22", "X-Evil", "two"):
        assert secret not in res.output.replace("two ways", "")


def test_files_are_checked_only_where_a_reader_is_built(tmp_path: Path) -> None:
    """`config check` and `build` run where a pod's token is not: they check the shape, not the files."""
    config = parse_config({"prometheus": {"authorization": {"credentials_file": "/var/run/secrets/token"}}}, "x.yaml")
    with pytest.raises(ConfigError, match=r"(?s)x.yaml: 1 problem.*prometheus.authorization.credentials_file"):
        reader_for(config)


def test_client_certificate_not_yet_valid_is_refused(tmp_path: Path, ca: TestCA) -> None:
    now = dt.datetime.now(dt.UTC)
    future = ca.issue(
        "future", client=True, not_before=now + dt.timedelta(days=2), not_after=now + dt.timedelta(days=9)
    )
    settings = PrometheusSettings(tls_config={"cert_file": str(future.cert), "key_file": str(future.key)})
    [problem] = check_client_files(settings)
    assert problem.path == "prometheus.tls_config.cert_file" and "not valid before" in problem.message


# ---------------------------------------------------------------- secrets stay out of printed config


def test_config_show_and_check_print_no_secret(tmp_path: Path) -> None:
    prometheus = {
        "url": "https://mimir.example:443/prometheus",
        "basic_auth": {"username": "reader", "password": PASSWORD},
        "http_headers": {"X-Scope-OrgID": {"values": ["team-a"], "secrets": ["hidden-tenant-key"]}},
        "proxy_url": "http://proxyuser:proxy-pa55@proxy.example:3128",
    }
    shown = _run(tmp_path, prometheus, "config", "show")
    checked = _run(tmp_path, prometheus, "config", "check")
    assert shown.exit_code == 0 and checked.exit_code == 0, shown.output + checked.output
    for res in (shown, checked):
        for secret in (PASSWORD, "hidden-tenant-key", "proxy-pa55"):
            assert secret not in res.output
    dumped = yaml.safe_load(shown.output)["prometheus"]
    assert dumped["basic_auth"]["password"] == "<secret>"
    assert dumped["http_headers"]["X-Scope-OrgID"] == {"values": ["team-a"], "secrets": ["<secret>"], "files": []}
    assert dumped["proxy_url"] == "http://proxyuser:xxxxx@proxy.example:3128"


def test_a_command_url_keeps_the_configs_credentials(misbehaving_prometheus: str) -> None:
    """`slo check --prometheus` and `dashboards preview --prometheus` query another address with the same auth."""
    Misbehaving.mode = "empty"
    config = parse_config(
        {"prometheus": {"url": "http://elsewhere.invalid", "authorization": {"credentials": TOKEN}}}, "x.yaml"
    )
    reader_for(config, misbehaving_prometheus).query("up")
    assert Misbehaving.seen[0]["Authorization"] == f"Bearer {TOKEN}"


def test_auth_error_is_a_prometheus_unavailable_error() -> None:
    assert PrometheusAuthError("x").exit_code == 3


# ---------------------------------------------------------------- TLS: CA, server name, client certificates


@pytest.fixture
def tls_endpoint(tmp_path: Path) -> Iterator[tuple[str, TestCA]]:
    """The misbehaving endpoint over TLS; its certificate names only prometheus.internal; it requires a
    client certificate signed by the same CA."""
    ca = TestCA(tmp_path / "tls")
    server = ca.issue("server", sans=("prometheus.internal",))
    ca.issue("client", client=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(server.cert), str(server.key))
    ctx.load_verify_locations(cafile=str(ca.ca_file))
    ctx.verify_mode = ssl.CERT_REQUIRED
    Misbehaving.mode, Misbehaving.hits, Misbehaving.seen = "empty", 0, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", ca
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tls(ca: TestCA, **extra: Any) -> dict[str, Any]:
    return {"ca_file": str(ca.ca_file), "cert_file": str(ca.dir / "client.crt"), "key_file": str(ca.dir / "client.key"),
            "server_name": "prometheus.internal", **extra}  # fmt: skip


def test_tls_with_server_name_and_client_certificate(tls_endpoint: tuple[str, TestCA]) -> None:
    url, ca = tls_endpoint
    assert PrometheusReader(PrometheusSettings(url=url, retries=0, tls_config=_tls(ca))).query("up") == []
    inline = {**_tls(ca), "ca": ca.ca_file.read_text()}
    del inline["ca_file"]
    assert PrometheusReader(PrometheusSettings(url=url, retries=0, tls_config=inline)).query("up") == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"server_name": None}, "not trusted or does not carry its name"),
        ({"cert_file": None, "key_file": None}, "check prometheus.tls_config"),
        ({"ca_file": None}, "not trusted"),
    ],
)
def test_tls_failures_exit_3_naming_tls_config(
    tls_endpoint: tuple[str, TestCA], tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    url, ca = tls_endpoint
    settings = {k: v for k, v in {**_tls(ca), **change}.items() if v is not None}
    res = _run(tmp_path, {"url": url, "tls_config": settings})
    assert res.exit_code == 3, res.output
    assert "TLS with Prometheus" in res.output and words in res.output


def test_insecure_skip_verify_accepts_any_certificate_and_says_so(
    tls_endpoint: tuple[str, TestCA], caplog: pytest.LogCaptureFixture
) -> None:
    url, ca = tls_endpoint
    tls = {k: v for k, v in _tls(ca, insecure_skip_verify=True).items() if k not in ("ca_file", "server_name")}
    with caplog.at_level(logging.WARNING):
        assert PrometheusReader(PrometheusSettings(url=url, retries=0, tls_config=tls)).query("up") == []
    assert "insecure_skip_verify" in caplog.text
