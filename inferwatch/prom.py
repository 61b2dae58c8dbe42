"""Reading aggregated results from Prometheus's HTTP API, with bounded retries and clear errors.

Every command and job that queries Prometheus goes through PrometheusReader, built from the
`prometheus:` settings (URL, authentication, TLS, headers, proxy: inferwatch.promhttp), so each
way of failing is one error with one exit status:

- the settings name a file that is missing, unreadable or wrong (an expired client certificate,
  a password with a line break): exit 2 naming the field, before any request;
- no answer (connection refused, timeout, TLS handshake failed) after the retries: exit 3 with
  the URL, the attempts and a one-line reason;
- HTTP 401/403: exit 3, one line saying authentication failed and which setting to look at;
- any other answer that is not the API's JSON (a 4xx or 5xx, a proxy's HTML page, JSON of
  another shape): exit 3 with the status and a short printable excerpt, never raw bytes;
- the API's own error for a query (400/422 with ``"status": "error"``): QueryError, exit 1.

No message carries a secret the client sent (inferwatch.promhttp.ClientSecrets).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, TypeVar

import requests
from pydantic import ValidationError

from inferwatch.config import InferwatchConfig, PrometheusSettings
from inferwatch.errors import ConfigError, ExitCode, FieldProblem, InferwatchError, PrometheusUnavailableError
from inferwatch.promhttp import (
    RETRIED_STATUSES,
    auth_settings_hint,
    body_excerpt,
    build_client,
    check_client_files,
    printable_excerpt,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "RETRIED_STATUSES",
    "PrometheusAuthError",
    "PrometheusReader",
    "QueryError",
    "RangeSeries",
    "Sample",
    "reader_for",
]


class QueryError(InferwatchError):
    """Prometheus answered but rejected a query (a bug in inferwatch's PromQL, or a bad label)."""

    exit_code = ExitCode.FAILURE


class PrometheusAuthError(PrometheusUnavailableError):
    """Prometheus (or the proxy in front of it) refused the request's credentials: HTTP 401 or 403."""


@dataclass(frozen=True)
class Sample:
    """One instant-vector element: its labels and value."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class RangeSeries:
    """One range-vector series: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def _to_float(raw: str) -> float:
    value = float(raw)
    return value if math.isfinite(value) else math.nan


def _status_text(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


class PrometheusReader:
    """Instant and range queries against one Prometheus, with retries and clear errors.

    ``source`` names where the settings come from (the config file) in the exit-2 message about
    a file they name; the files are checked here, before the first request.
    """

    def __init__(
        self, settings: PrometheusSettings, session: requests.Session | None = None, *, source: str = "prometheus"
    ) -> None:
        problems = check_client_files(settings)
        if problems:
            raise ConfigError(source, problems)
        self.settings = settings
        self._client = build_client(settings, session)
        self._session = self._client.session

    def _attempts(self) -> str:
        return f"after {self.settings.retries + 1} attempt(s)"

    def _no_answer(self, what: str, err: requests.RequestException) -> PrometheusUnavailableError:
        url = self.settings.url
        # Redacted before it is cut, so no part of a secret survives at the cut.
        reason = printable_excerpt(self._client.redact(str(err.args[0] if err.args else err)), 200)
        if isinstance(err, requests.exceptions.SSLError):
            return PrometheusUnavailableError(
                f"TLS with Prometheus at {url} failed ({what}) {self._attempts()}: {_tls_reason(reason)}; "
                "check prometheus.tls_config (ca_file, cert_file/key_file, server_name)"
            )
        if isinstance(err, requests.exceptions.ProxyError):
            return PrometheusUnavailableError(
                f"the proxy to Prometheus at {url} failed ({what}) {self._attempts()}; check prometheus.proxy_url"
            )
        kind = type(err).__name__
        return PrometheusUnavailableError(f"Prometheus at {url} did not answer {what} {self._attempts()}: {kind}")

    def _request(self, method: str, path: str, what: str, data: dict[str, str] | None = None) -> Any:
        """The ``data`` member of the API's answer; raises one of the module's errors otherwise."""
        url = self.settings.url + path
        try:
            resp = self._session.request(
                method, url, data=data, timeout=self.settings.timeout_s, allow_redirects=self.settings.follow_redirects
            )
        except requests.RequestException as err:
            raise self._no_answer(what, err) from None
        return self._answer(resp, what)

    def _answer(self, resp: requests.Response, what: str) -> Any:
        url, code = self.settings.url, resp.status_code
        ctype = resp.headers.get("Content-Type", "")
        excerpt = body_excerpt(resp.content, ctype, redact=self._client.redact)
        if code in (401, 403):
            verb = "authentication failed" if code == 401 else "authenticated, but not allowed"
            raise PrometheusAuthError(
                f"Prometheus at {url}: {verb} ({_status_text(code)}, {what}); check "
                f"{auth_settings_hint(self.settings, excerpt)}: {excerpt}"
            )
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        api = isinstance(doc, dict) and doc.get("status") in ("success", "error")
        if api and doc["status"] == "success" and code == 200 and "data" in doc:
            return doc["data"]
        if api and doc["status"] == "error" and code in (400, 422):
            message = printable_excerpt(self._client.redact(str(doc.get("error", ""))), 500)
            raise QueryError(f"Prometheus at {url} rejected {what}: {doc.get('errorType', 'error')}: {message}")
        ctype = ctype or "no content type"
        if code == 200:
            raise PrometheusUnavailableError(
                f"not a Prometheus API answer from {url} ({what}): HTTP 200, {ctype}: {excerpt}"
            )
        retried = f" {self._attempts()}" if code in RETRIED_STATUSES else ""
        raise PrometheusUnavailableError(
            f"Prometheus at {url} answered {what} with {_status_text(code)}{retried} ({ctype}): {excerpt}"
        )

    def _decode(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (ValueError, KeyError, TypeError, IndexError) as err:
            # JSON with the API's status but not its shape (another product's API on the same path)
            raise PrometheusUnavailableError(
                f"not a Prometheus API answer from {self.settings.url} ({what}): {type(err).__name__}"
            ) from None

    def query(self, expr: str, at: datetime | None = None) -> list[Sample]:
        """Evaluate ``expr`` at ``at`` (default: now); returns its instant-vector elements."""
        what = f"query {expr!r}"
        form = {"query": expr} | ({"time": f"{at.timestamp():.3f}"} if at is not None else {})
        data = self._request("POST", "/api/v1/query", what, form)
        return self._decode(
            what, lambda: [Sample(dict(r.get("metric", {})), _to_float(r["value"][1])) for r in data["result"]]
        )

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        """Evaluate ``expr`` over [start, end] every ``step_s`` seconds."""
        what = f"range query {expr!r}"
        form = {"query": expr, "start": str(round(start.timestamp())), "end": str(round(end.timestamp())),
                "step": f"{step_s:g}s"}  # fmt: skip
        data = self._request("POST", "/api/v1/query_range", what, form)
        return self._decode(
            what,
            lambda: [
                RangeSeries(dict(r.get("metric", {})), [(float(t), _to_float(v)) for t, v in r["values"]])
                for r in data["result"]
            ],
        )

    def build_info(self) -> dict[str, str]:
        """Prometheus's /api/v1/status/buildinfo (version, revision, …)."""
        data = self._request("GET", "/api/v1/status/buildinfo", "buildinfo")
        return self._decode("buildinfo", lambda: {str(k): str(v) for k, v in data.items()})

    def runtime_info(self) -> dict[str, Any]:
        """Prometheus's /api/v1/status/runtimeinfo (storageRetention, …)."""
        data = self._request("GET", "/api/v1/status/runtimeinfo", "runtimeinfo")
        return self._decode("runtimeinfo", lambda: {str(k): v for k, v in data.items()})


def _tls_reason(reason: str) -> str:
    for needle, says in (
        ("CERTIFICATE_VERIFY_FAILED", "the server's certificate is not trusted or does not carry its name"),
        ("certificate required", "the server requires a client certificate"),
        ("WRONG_VERSION_NUMBER", "the server does not speak TLS on this port"),
        ("unknown ca", "the server does not trust the client certificate"),
        ("bad certificate", "the server rejected the client certificate"),
        ("certificate expired", "a certificate has expired"),
    ):
        if needle.lower() in reason.lower():
            return f"{says} ({reason})"
    return reason


def reader_for(config: InferwatchConfig, url: str | None = None) -> PrometheusReader:
    """A reader of ``config``'s Prometheus settings (at ``url`` instead, for a --prometheus flag).

    Raises ConfigError naming the config file and field for a file the settings name that is
    missing or wrong, and for a URL that is not http(s).
    """
    settings = config.prometheus
    if url is not None:
        try:
            settings = settings.with_url(url)
        except ValidationError as err:
            message = printable_excerpt(str(err.errors()[0]["msg"]).removeprefix("Value error, "), 200)
            raise ConfigError("--prometheus", [FieldProblem(repr(url), message)]) from None
    return PrometheusReader(settings, source=config.source)
