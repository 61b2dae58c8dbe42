"""The HTTP side of reading Prometheus: a requests session built from the `prometheus:` settings.

What Prometheus's own HTTP client does with an ``<http_config>``, done with requests and urllib3:

- `PrometheusAuth` sets the Authorization header (``authorization`` or ``basic_auth``) and the
  ``http_headers`` on every request, reading every ``*_file`` again each time, so a rotated
  ServiceAccount token or password is picked up without a restart (as Prometheus does);
- `TlsAdapter` gives urllib3 the CA, client certificate, server name and TLS versions; urllib3
  loads the files for every new connection, so a renewed certificate is used on the next one;
- `LoggedRetry` retries only what another attempt can fix (connection failures, 429, 500 and
  502-504) and logs one line per failed attempt in inferwatch's format, instead of urllib3's
  ``Retrying (Retry(total=…))`` warning with its object dumps;
- `check_client_files` is the edge check of every file the settings name: missing, unreadable,
  a password with a line break in it, a CA that is not PEM, a client certificate that expired.
  It runs when a reader is built, not when the config is loaded: `inferwatch build` runs where a
  pod's token file does not exist.

Secrets never reach a message: `ClientSecrets` holds every secret value sent, and `redact`
replaces them in any text (a proxy that echoes the request in its error page included).
"""

from __future__ import annotations

import html
import logging
import re
import ssl
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, _basic_auth_str
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from inferwatch.config.prometheus import REDACTED, PrometheusSettings, unsafe_characters
from inferwatch.errors import ExitCode, FieldProblem, InferwatchError

log = logging.getLogger(__name__)

# Server-side failures worth another attempt: 429 (Retry-After is honoured), 500 for internal
# errors of Prometheus or a proxy, 502-504 while it restarts or is overloaded. A 4xx other than
# 429, or 501, answers the same the next time: not retried.
RETRIED_STATUSES = (429, 500, 502, 503, 504)
SECTION = "prometheus"
_TLS_VERSION = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Shortest secret `redact` looks for: shorter ones would blank out ordinary words.
_MIN_REDACTED = 4


class CredentialsFileError(InferwatchError):
    """A file named by the `prometheus:` settings could not be read when a request needed it."""

    exit_code = ExitCode.USAGE


@dataclass
class ClientSecrets:
    """Every secret value the client has sent, so that `redact` can blank them out of any text."""

    _values: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, value: str) -> str:
        """Remember ``value`` (a password, a token, a secret header) and return it."""
        if len(value) >= _MIN_REDACTED:
            with self._lock:
                self._values.add(value)
        return value

    def redact(self, text: str) -> str:
        """``text`` with every remembered secret replaced by ``<secret>``."""
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, REDACTED)
        return text


def read_secret_file(path: str, field_path: str) -> str:
    """The content of ``path`` without surrounding whitespace, as Prometheus reads a secret file.

    Raises CredentialsFileError naming ``field_path`` when the file cannot be read or holds a
    line break inside the value (a header cannot carry it).
    """
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise CredentialsFileError(f"{SECTION}.{field_path}: cannot read {path} ({reason})") from None
    problem = unsafe_characters(value)
    if problem:
        raise CredentialsFileError(f"{SECTION}.{field_path}: the content of {path} {problem} inside the value")
    return value


class PrometheusAuth(AuthBase):
    """Sets the Authorization header and the extra headers of the settings on each request."""

    def __init__(self, settings: PrometheusSettings, secrets: ClientSecrets) -> None:
        self._settings = settings
        self._secrets = secrets

    def _authorization(self) -> str | None:
        s = self._settings
        if s.authorization is not None:
            a = s.authorization
            if a.credentials_file is not None:
                cred = read_secret_file(a.credentials_file, "authorization.credentials_file")
            else:
                cred = a.credentials.get_secret_value() if a.credentials is not None else ""
            return self._secrets.add(f"{a.type} {self._secrets.add(cred)}")
        if s.basic_auth is not None:
            b = s.basic_auth
            user = read_secret_file(b.username_file, "basic_auth.username_file") if b.username_file else b.username
            if b.password_file is not None:
                password = read_secret_file(b.password_file, "basic_auth.password_file")
            else:
                password = b.password.get_secret_value() if b.password is not None else ""
            self._secrets.add(password)
            return self._secrets.add(_basic_auth_str(user, password))
        return None

    def headers(self) -> dict[str, str]:
        """The headers this client adds to a request (values read from files now)."""
        out: dict[str, str] = {}
        for name, header in self._settings.http_headers.items():
            values = list(header.values)
            values += [self._secrets.add(v.get_secret_value()) for v in header.secrets]
            values += [
                self._secrets.add(read_secret_file(f, f"http_headers.{name}.files.{i}"))
                for i, f in enumerate(header.files)
            ]
            # Several values of one header are one comma-separated value (RFC 9110 section 5.3).
            out[name] = ", ".join(values)
        authorization = self._authorization()
        if authorization is not None:
            out["Authorization"] = authorization
        return out

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self.headers())
        return r


def _short_reason(error: object) -> str:
    """A one-line, printable reason for a urllib3 or socket error (no object reprs)."""
    text = str(getattr(error, "reason", None) or error)
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    text = re.sub(r"^HTTP(S)?ConnectionPool\(host=[^)]*\):\s*", "", text)
    return printable_excerpt(text, 160)


class LoggedRetry(Retry):
    """urllib3's Retry, logging each failed attempt as one inferwatch line (urllib3's own warning is dropped)."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        """The next Retry (raises MaxRetryError when none is left); logs the failed attempt."""
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        host = f"{_pool.scheme}://{_pool.host}:{_pool.port}" if _pool is not None else ""
        cause = f"HTTP {response.status}" if response is not None else _short_reason(error)
        attempt = len(new.history)
        total = attempt + (new.total if isinstance(new.total, int) else 0) + 1
        wait = new.get_backoff_time()
        log.warning(
            "prometheus request failed attempt=%d/%d url=%s%s cause=%s; retrying%s",
            attempt, total, host, url or "", cause, f" in {wait:.1f}s" if wait else "",
        )  # fmt: skip
        return new


class _DropUrllib3RetryWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Retrying (")


def _quiet_urllib3_retries() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _DropUrllib3RetryWarning) for f in logger.filters):
        logger.addFilter(_DropUrllib3RetryWarning())


class TlsAdapter(HTTPAdapter):
    """An HTTPAdapter that gives urllib3 the TLS settings (CA, client certificate, server name, versions).

    requests sets the trusted CAs and client certificate on the connection pool at every request
    (`cert_verify`, from ``session.verify`` and ``session.cert``); this adapter sets them from
    `tls_config` there instead, and gives the rest (server name, TLS versions, an inline CA) to the
    pool's connections through the pool key, so two settings never share a pool.
    """

    def __init__(self, settings: PrometheusSettings, retry: Retry) -> None:
        self._tls = settings.tls_config
        super().__init__(max_retries=retry)

    def _trust(self) -> dict[str, Any]:
        t = self._tls
        out: dict[str, Any] = {}
        if t.insecure_skip_verify:
            out.update(cert_reqs="CERT_NONE", ca_certs=None, ca_cert_dir=None, assert_hostname=False)
        elif t.ca_file is not None or t.ca is not None:
            # Only this CA, not the system's (as Prometheus does with ca_file).
            out.update(cert_reqs="CERT_REQUIRED", ca_certs=t.ca_file, ca_cert_dir=None)
        if t.cert_file is not None:
            out.update(cert_file=t.cert_file, key_file=t.key_file)
        return out

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' pool attributes with the `tls_config` of the settings applied to https."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") != "https":
            return host_params, pool_kwargs
        t = self._tls
        for key, value in self._trust().items():
            if value is None:
                pool_kwargs.pop(key, None)
            else:
                pool_kwargs[key] = value
        if t.ca is not None and not t.insecure_skip_verify:
            pool_kwargs["ca_cert_data"] = t.ca
        if t.server_name:
            pool_kwargs["server_hostname"] = t.server_name
        if t.min_version:
            pool_kwargs["ssl_minimum_version"] = _TLS_VERSION[t.min_version]
        if t.max_version:
            pool_kwargs["ssl_maximum_version"] = _TLS_VERSION[t.max_version]
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """requests' own CA and certificate choice, then the `tls_config` of the settings over it."""
        super().cert_verify(conn, url, verify, cert)
        if url.lower().startswith("https"):
            for key, value in self._trust().items():
                setattr(conn, key, value)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send; the per-request warning of an unverified connection is logged once instead (see build_session)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return super().send(request, *args, **kwargs)


def _bypasses_proxy(host: str, no_proxy: str) -> bool:
    return requests.utils.should_bypass_proxies(f"http://{host}", no_proxy=no_proxy)


@dataclass
class PrometheusClient:
    """A configured requests session and the secrets it has sent (for `redact`)."""

    session: requests.Session
    secrets: ClientSecrets
    settings: PrometheusSettings

    def redact(self, text: str) -> str:
        """``text`` without any secret this client sent."""
        return self.secrets.redact(text)


def build_client(settings: PrometheusSettings, session: requests.Session | None = None) -> PrometheusClient:
    """A session that authenticates, verifies TLS, proxies and retries as ``settings`` say."""
    _quiet_urllib3_retries()
    retry = LoggedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        backoff_factor=settings.retry_backoff_s,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=("GET", "POST"),
        raise_on_status=False,
    )
    session = session or requests.Session()
    # Prometheus ignores HTTP(S)_PROXY, .netrc and REQUESTS_CA_BUNDLE unless told otherwise.
    session.trust_env = settings.proxy_from_environment
    adapter = TlsAdapter(settings, retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    secrets = ClientSecrets()
    session.auth = PrometheusAuth(settings, secrets)
    session.verify = not settings.tls_config.insecure_skip_verify
    if settings.proxy_url is not None:
        host = urlsplit(settings.url).hostname or ""
        if settings.no_proxy is None or not _bypasses_proxy(host, settings.no_proxy):
            session.proxies = {"http": settings.proxy_url, "https": settings.proxy_url}
            proxy_password = urlsplit(settings.proxy_url).password
            if proxy_password:
                secrets.add(proxy_password)
    if settings.tls_config.insecure_skip_verify and settings.url.startswith("https://"):
        log.warning("prometheus.tls_config.insecure_skip_verify: the certificate of %s is not verified", settings.url)
    return PrometheusClient(session, secrets, settings)


# ---------------------------------------------------------------- edge checks of the files


def _decode_cert(path: str) -> dict[str, Any] | None:
    # The standard library decodes a PEM certificate's dates only through this test helper;
    # where it is missing the expiry is left to the TLS handshake.
    decode: Callable[[str], dict[str, Any]] | None = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return None
    try:
        return decode(path)
    except (ssl.SSLError, OSError, ValueError):
        return None


def _file_problem(path: str, where: str) -> FieldProblem | None:
    p = Path(path)
    if not p.exists():
        return FieldProblem(where, f"{path} does not exist")
    if not p.is_file():
        return FieldProblem(where, f"{path} is not a file")
    try:
        with p.open("rb") as f:
            f.read(1)
    except OSError as err:
        return FieldProblem(where, f"{path} cannot be read ({err.strerror})")
    return None


def _secret_file_problem(path: str, where: str) -> FieldProblem | None:
    problem = _file_problem(path, where)
    if problem is not None:
        return problem
    try:
        read_secret_file(path, where.removeprefix(f"{SECTION}."))
    except CredentialsFileError as err:
        return FieldProblem(where, str(err).split(": ", 1)[1])
    return None


def _tls_problems(settings: PrometheusSettings, now: datetime) -> list[FieldProblem]:
    t = settings.tls_config
    where = f"{SECTION}.tls_config"
    problems: list[FieldProblem] = []
    if t.ca_file is not None:
        problem = _file_problem(t.ca_file, f"{where}.ca_file")
        if problem is None:
            try:
                ssl.create_default_context(cafile=t.ca_file)
            except ssl.SSLError:
                problem = FieldProblem(f"{where}.ca_file", f"{t.ca_file} holds no PEM certificate")
        if problem is not None:
            problems.append(problem)
    if t.ca is not None:
        try:
            ssl.create_default_context(cadata=t.ca)
        except (ssl.SSLError, ValueError):
            problems.append(FieldProblem(f"{where}.ca", "holds no PEM certificate"))
    if t.cert_file is None or t.key_file is None:
        return problems
    found = [
        p
        for p in (_file_problem(t.cert_file, f"{where}.cert_file"), _file_problem(t.key_file, f"{where}.key_file"))
        if p
    ]
    if found:
        return problems + found
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(t.cert_file, t.key_file)
    except ssl.SSLError as err:
        reason = printable_excerpt(err.reason or str(err), 80)
        return [*problems, FieldProblem(f"{where}.cert_file", f"{t.cert_file} and key_file {t.key_file} are not a "
                                        f"certificate and its key ({reason})")]  # fmt: skip
    decoded = _decode_cert(t.cert_file)
    if decoded is not None:
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notAfter"]), tz=UTC)
        not_before = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notBefore"]), tz=UTC)
        if not_after <= now:
            problems.append(
                FieldProblem(f"{where}.cert_file", f"{t.cert_file} expired on {not_after:%Y-%m-%d %H:%M} UTC")
            )
        elif not_before > now:
            problems.append(
                FieldProblem(f"{where}.cert_file", f"{t.cert_file} is not valid before {not_before:%Y-%m-%d %H:%M} UTC")
            )
    return problems


def check_client_files(settings: PrometheusSettings, now: datetime | None = None) -> list[FieldProblem]:
    """Every problem with the files the settings name, each with its field's dotted path."""
    now = now or datetime.now(UTC)
    problems: list[FieldProblem] = []
    secret_files: list[tuple[str, str]] = []
    if settings.authorization is not None and settings.authorization.credentials_file is not None:
        secret_files.append((settings.authorization.credentials_file, "authorization.credentials_file"))
    if settings.basic_auth is not None:
        b = settings.basic_auth
        secret_files += [
            (p, f"basic_auth.{n}")
            for p, n in ((b.username_file, "username_file"), (b.password_file, "password_file"))
            if p
        ]
    for name, header in settings.http_headers.items():
        secret_files += [(f, f"http_headers.{name}.files.{i}") for i, f in enumerate(header.files)]
    for path, where in secret_files:
        problem = _secret_file_problem(path, f"{SECTION}.{where}")
        if problem is not None:
            problems.append(problem)
    return problems + _tls_problems(settings, now)


# ---------------------------------------------------------------- what an answer says


def printable_excerpt(text: str, limit: int = 160) -> str:
    """``text`` on one line, every control character a space, at most ``limit`` characters."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_TAGS = re.compile(r"<[^>]+>")
_SKIPPED = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.S | re.I)


def body_excerpt(
    body: bytes, content_type: str, limit: int = 160, redact: Callable[[str], str] = lambda text: text
) -> str:
    """A short, printable excerpt of an answer's body: an HTML page's text (its title first), never bytes.

    ``redact`` runs before the text is cut, so no part of a secret survives at the cut.
    """
    text = body[:8192].decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title", text, re.S | re.I)
        rest = _TAGS.sub(" ", _SKIPPED.sub(" ", text))
        text = html.unescape((title.group(1) + ": " if title else "") + rest)
    return printable_excerpt(redact(text), limit) or "(empty body)"


def auth_settings_hint(settings: PrometheusSettings, body: str = "") -> str:
    """Which settings a 401/403 points at (names and file paths only; never a secret)."""
    s = settings
    if s.authorization is not None:
        a = s.authorization
        src = f"credentials_file {a.credentials_file}" if a.credentials_file else "credentials"
        hint = f"{SECTION}.authorization ({a.type}, {src})"
    elif s.basic_auth is not None:
        b = s.basic_auth
        user = f"username {b.username!r}" if b.username else f"username_file {b.username_file}"
        pw = f"password_file {b.password_file}" if b.password_file else "password"
        hint = f"{SECTION}.basic_auth ({user}, {pw})"
    else:
        hint = f"{SECTION}.authorization or {SECTION}.basic_auth (neither is set)"
    tenant = next((n for n in s.http_headers if n.lower() == "x-scope-orgid"), None)
    if tenant is not None:
        hint += f" and the tenant header {SECTION}.http_headers.{tenant}"
    elif "org id" in body.lower() or "tenant" in body.lower():
        hint += f"; the server asks for a tenant: set {SECTION}.http_headers.X-Scope-OrgID"
    return hint
