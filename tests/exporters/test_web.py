"""The exporter's web configuration (--web.config.file): the file as exporter-toolkit reads it, basic auth
with its verification cache, TLS with client certificates, the probes left open, reloads without a restart.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml
from click.testing import CliRunner

from inferwatch.app.cli import cli
from inferwatch.errors import ConfigError
from inferwatch.exporters.web import BasicAuthVerifier, WebConfigFile, WebGuard, load_web_config
from inferwatch.exporters.web.auth import parse_basic
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ManagedProcess
from tests.support.certs import TestCA
from tests.support.exporter import exporter_process

PASSWORD = "scrape-pa55"
# Cost 4: the tests check behaviour, not bcrypt's price.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def pki(tmp_path: Path) -> TestCA:
    ca = TestCA(tmp_path / "web")
    ca.issue("server")
    ca.issue("client", client=True)
    return ca


def _client_ctx(ca: TestCA, cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.ca_file))
    if cert:
        ctx.load_cert_chain(str(ca.dir / "client.crt"), str(ca.dir / "client.key"))
    return ctx


# ---------------------------------------------------------------- the file


def test_exporter_toolkit_file_with_relative_paths(pki: TestCA) -> None:
    """The node-exporter file shape: paths relative to the file, every key exporter-toolkit documents."""
    path = _write(
        pki.dir / "web.yml",
        {
            "tls_server_config": {
                "cert_file": "server.crt",
                "key_file": "server.key",
                "client_ca_file": "ca.crt",
                "client_auth_type": "VerifyClientCertIfGiven",
                "min_version": "TLS12",
                "max_version": "TLS13",
                "prefer_server_cipher_suites": True,
            },
            "http_server_config": {"http2": True, "headers": {"X-Frame-Options": "deny"}},
            "basic_auth_users": {"prometheus": HASH},
        },
    )
    config = load_web_config(path)
    assert config.tls_server_config.cert_file == str(pki.dir / "server.crt")
    assert config.tls_server_config.enabled and config.tls_server_config.verifies_clients


TLS = {"cert_file": "server.crt", "key_file": "server.key"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"tls_server_config": {**TLS, "bogus": 1}}, "tls_server_config.bogus", "not permitted"),
        ({"tls_server_config": {"cert_file": "server.crt"}}, "tls_server_config.key_file", "missing"),
        ({"tls_server_config": {**TLS, "cert_file": "nope.crt"}}, "tls_server_config.cert_file", "not a readable"),
        ({"tls_server_config": {**TLS, "key_file": "client.key"}}, "tls_server_config", "cannot be loaded"),
        ({"tls_server_config": {**TLS, "client_ca_file": "ca.crt"}}, "client_auth_type", "without a client auth"),
        (
            {"tls_server_config": {**TLS, "client_auth_type": "RequireAnyClientCert", "client_ca_file": "ca.crt"}},
            "tls_server_config.client_auth_type",
            "VerifyClientCertIfGiven",
        ),
        ({"tls_server_config": {**TLS, "cipher_suites": ["TLS_AES_128_GCM_SHA256"]}}, "cipher_suites", "not supported"),
        ({"basic_auth_users": {"prometheus": "plain-text-password"}}, "basic_auth_users", "not a bcrypt hash"),
        ({"http_server_config": {"headers": {"Server": "x"}}}, "http_server_config.headers", "can not be configured"),
    ],
)
def test_bad_web_config_names_the_field(pki: TestCA, data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_web_config(_write(pki.dir / "web.yml", data))
    assert field in str(err.value) and words in str(err.value)
    assert "plain-text-password" not in str(err.value)


def test_exporter_run_with_a_bad_web_config_exits_2(pki: TestCA) -> None:
    path = _write(pki.dir / "web.yml", {"basic_auth_users": {"prometheus": "not-a-hash"}})
    res = CliRunner().invoke(
        cli, ["exporter", "run", "--gpu-backend", "simulated", "--host", "127.0.0.1", "--port", str(free_port()),
              "--web.config.file", str(path)],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert f"--web.config.file {path}" in res.output and "basic_auth_users" in res.output


# ---------------------------------------------------------------- basic auth and its cache


def test_verification_is_cached_so_a_scrape_pays_bcrypt_once() -> None:
    verifier = BasicAuthVerifier()
    users = {"prometheus": HASH}
    assert all(verifier.verify(b"prometheus", PASSWORD.encode(), users) for _ in range(5))
    assert not any(verifier.verify(b"prometheus", b"wrong", users) for _ in range(5))
    assert verifier.bcrypt_checks == 2
    assert verifier.cached(b"prometheus", PASSWORD.encode(), users) is True
    # A changed hash (the file was edited) is a new key: bcrypt decides again.
    assert (
        verifier.cached(
            b"prometheus", PASSWORD.encode(), {"prometheus": bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode()}
        )
        is None
    )


def test_unknown_user_costs_a_bcrypt_check_too() -> None:
    verifier = BasicAuthVerifier()
    start = time.perf_counter()
    assert not verifier.verify(b"mallory", b"fakepassword", {"prometheus": HASH})
    assert verifier.bcrypt_checks == 1 and time.perf_counter() - start > 0.01


def test_cache_stays_bounded() -> None:
    verifier = BasicAuthVerifier(size=10)
    users = {"prometheus": HASH}
    for i in range(40):
        verifier.verify(b"prometheus", f"guess-{i}".encode(), users)
    assert len(verifier._cache) <= 10


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Basic cHJvbWV0aGV1czpwdw==", (b"prometheus", b"pw")),
        (b"basic cHJvbWV0aGV1czpwdw==", (b"prometheus", b"pw")),
        (b"Bearer abc", None),
        (b"Basic !!!", None),
        (b"Basic bm9jb2xvbg==", None),
        (None, None),
    ],
)
def test_parse_basic(header: bytes | None, expected: tuple[bytes, bytes] | None) -> None:
    assert parse_basic(header) == expected


def test_guard_answers_probes_without_credentials_and_metrics_only_with(tmp_path: Path) -> None:
    web = WebConfigFile(_write(tmp_path / "web.yml", {"basic_auth_users": {"prometheus": HASH}}))
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data"})

    async def run() -> dict[str, int]:
        transport = httpx.ASGITransport(app=WebGuard(app, web))
        async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
            return {
                "metrics": (await client.get("/metrics")).status_code,
                "wrong": (await client.get("/metrics", auth=("prometheus", "nope"))).status_code,
                "right": (await client.get("/metrics", auth=("prometheus", PASSWORD))).status_code,
                "healthz": (await client.get("/healthz")).status_code,
                "readyz": (await client.get("/readyz")).status_code,
            }

    assert asyncio.run(run()) == {"metrics": 401, "wrong": 401, "right": 200, "healthz": 200, "readyz": 200}
    assert calls == ["/metrics", "/healthz", "/readyz"]


# ---------------------------------------------------------------- a real exporter process


@pytest.fixture
def tls_exporter(tmp_path: Path, pki: TestCA) -> Iterator[tuple[ManagedProcess, Path]]:
    path = _write(
        pki.dir / "web.yml",
        {
            "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
            "basic_auth_users": {"prometheus": HASH},
        },
    )
    with exporter_process(tmp_path / "exporter", ["--gpu-backend", "simulated", "--web.config.file", str(path)],
                          tls=_client_ctx(pki)) as exp:  # fmt: skip
        yield exp, path


def test_unauthenticated_scrape_gets_401_not_data(tls_exporter: tuple[ManagedProcess, Path], pki: TestCA) -> None:
    exp, _ = tls_exporter
    ctx = _client_ctx(pki)
    r = httpx.get(exp.url + "/metrics", verify=ctx)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Basic" and "inferwatch_" not in r.text
    r = httpx.get(exp.url + "/metrics", verify=ctx, auth=("prometheus", PASSWORD))
    assert r.status_code == 200 and "inferwatch_gpu_up" in r.text
    assert httpx.get(exp.url + "/healthz", verify=ctx).text == "ok\n"
    with pytest.raises(httpx.HTTPError):
        httpx.get(exp.url.replace("https://", "http://") + "/metrics", timeout=3)


def test_web_config_edits_apply_without_restart(tls_exporter: tuple[ManagedProcess, Path], pki: TestCA) -> None:
    exp, path = tls_exporter
    ctx = _client_ctx(pki)
    other = bcrypt.hashpw(b"second", bcrypt.gensalt(4)).decode()
    tls = {"cert_file": "server.crt", "key_file": "server.key"}
    _write(path, {"tls_server_config": tls, "basic_auth_users": {"prometheus": HASH, "grafana": other}})
    assert httpx.get(exp.url + "/metrics", verify=ctx, auth=("grafana", "second")).status_code == 200
    path.write_text("basic_auth_users: [not, a, mapping]\n")
    assert httpx.get(exp.url + "/metrics", verify=ctx, auth=("prometheus", PASSWORD)).status_code == 500
    assert httpx.get(exp.url + "/readyz", verify=ctx).status_code == 200
    _write(path, {"tls_server_config": tls, "basic_auth_users": {"prometheus": HASH}})
    assert httpx.get(exp.url + "/metrics", verify=ctx, auth=("prometheus", PASSWORD)).status_code == 200
    assert "answering 500 until it is fixed" in exp.log()


def test_renewed_certificate_is_served_on_the_next_connection(
    tls_exporter: tuple[ManagedProcess, Path], tmp_path: Path
) -> None:
    exp, path = tls_exporter
    renewed = TestCA(tmp_path / "renewed")
    fresh = renewed.issue("server")
    # As the kubelet swaps a Secret volume: whole files replaced, never written in place.
    for src, name in ((fresh.cert, "server.crt"), (fresh.key, "server.key")):
        tmp = path.parent / f".{name}.new"
        shutil.copy(src, tmp)
        tmp.rename(path.parent / name)
    r = httpx.get(exp.url + "/metrics", verify=_client_ctx(renewed), auth=("prometheus", PASSWORD))
    assert r.status_code == 200
    assert "TLS certificate" in exp.log() and "reloaded" in exp.log()


def test_client_certificate_required(tmp_path: Path, pki: TestCA) -> None:
    path = _write(
        pki.dir / "web.yml",
        {"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key", "client_ca_file": "ca.crt",
                               "client_auth_type": "RequireAndVerifyClientCert"}},
    )  # fmt: skip
    with exporter_process(tmp_path / "exporter", ["--gpu-backend", "simulated", "--web.config.file", str(path)],
                          tls=_client_ctx(pki, cert=True)) as exp:  # fmt: skip
        assert httpx.get(exp.url + "/metrics", verify=_client_ctx(pki, cert=True)).status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(exp.url + "/metrics", verify=_client_ctx(pki)).raise_for_status()


def test_bcrypt_miss_does_not_stall_cached_scrapes(tmp_path: Path, pki: TestCA) -> None:
    """Wrong passwords run bcrypt (cost 12, ~0.4 s each) in a worker thread: cached scrapes are answered meanwhile."""
    slow = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    path = _write(pki.dir / "web.yml", {"tls_server_config": TLS, "basic_auth_users": {"prometheus": slow}})
    ctx = _client_ctx(pki)
    args = ["--gpu-backend", "simulated", "--web.config.file", str(path)]
    with (
        exporter_process(tmp_path / "exporter", args, tls=ctx) as exp,
        httpx.Client(verify=ctx, auth=("prometheus", PASSWORD)) as client,
    ):
        assert client.get(exp.url + "/metrics").status_code == 200  # pays bcrypt once
        stop = threading.Event()

        def guess() -> None:
            i = 0
            while not stop.is_set():
                httpx.get(exp.url + "/metrics", verify=ctx, auth=("prometheus", f"guess-{i}"), timeout=30)
                i += 1

        thread = threading.Thread(target=guess, daemon=True)
        thread.start()
        try:
            times = []
            for _ in range(10):
                start = time.perf_counter()
                assert client.get(exp.url + "/metrics").status_code == 200
                times.append(time.perf_counter() - start)
        finally:
            stop.set()
            thread.join(timeout=30)
    assert sorted(times)[len(times) // 2] < 0.2, times
