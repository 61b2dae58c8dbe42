"""The `prometheus:` section: where inferwatch reads from, and how it gets in.

Besides the URL and the retry budget, the section takes Prometheus's own HTTP client
configuration (``<http_config>`` of prometheus.yml, as promtool's ``--http.config.file`` reads
it): ``authorization`` (type + credentials or credentials_file), ``basic_auth`` (username,
password or their files), ``tls_config`` (CA, client certificate, server name,
insecure_skip_verify, TLS versions), ``http_headers`` (values, secrets and files per header, e.g.
Mimir's ``X-Scope-OrgID``) and the proxy settings, so a block that works in a Prometheus, Grafana
Agent or promtool configuration works here unchanged.

This model checks the shape only (one way of authenticating, no reserved or malformed header, no
line break in a secret); whether the files exist and hold what they should is checked where a
reader is built (inferwatch.promhttp), because `inferwatch build` runs where a pod's token is not.
Secrets are `SecretStr`: printed as ``<secret>`` (as Prometheus prints them) by `config show`, in
messages and in JSON dumps, never as themselves.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr, field_validator, model_validator

REDACTED = "<secret>"

# A secret shown as Prometheus shows one, in every JSON dump (config show, chart values, messages).
Secret = Annotated[SecretStr, PlainSerializer(lambda _: REDACTED, return_type=str, when_used="json")]

# Headers inferwatch (or the HTTP library) sets itself, or that change the connection: Prometheus
# refuses the same list (prometheus/common config/headers.go), so a block valid there is valid here.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "accept-encoding",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
        "x-prometheus-scrape-timeout-seconds",
    }
)
# RFC 9110 token: a header name, an authorization scheme.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


def unsafe_characters(value: str) -> str | None:
    """What makes ``value`` unfit for an HTTP header (a line break, another control character), or None."""
    if "\n" in value or "\r" in value:
        return "contains a line break"
    if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
        return "contains a control character"
    return None


def _secret_safe(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        problem = unsafe_characters(value.get_secret_value())
        if problem:
            # The value itself is never quoted: it is a secret.
            raise ValueError(f"the secret {problem}; an HTTP header cannot carry it")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Authorization(_Strict):
    """The Authorization header: ``<type> <credentials>``, the credentials inline or read from a file."""

    type: str = Field("Bearer", description="authorization scheme (Bearer unless the server wants another)")
    credentials: Secret | None = Field(None, description="the credentials (prefer credentials_file)")
    credentials_file: str | None = Field(
        None,
        description="file holding the credentials, read again for every request (a rotating ServiceAccount "
        "token: /var/run/secrets/kubernetes.io/serviceaccount/token)",
    )

    @field_validator("credentials")
    @classmethod
    def _safe(cls, v: SecretStr | None) -> SecretStr | None:
        return _secret_safe(v)

    @field_validator("type")
    @classmethod
    def _scheme(cls, v: str) -> str:
        v = v.strip() or "Bearer"
        if v.lower() == "basic":
            raise ValueError('authorization type cannot be "Basic": use basic_auth instead')
        if not _TOKEN.match(v):
            raise ValueError(f"{v!r} is not an authorization scheme (one word, e.g. Bearer)")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> Authorization:
        if (self.credentials is None) == (self.credentials_file is None):
            raise ValueError("set exactly one of credentials and credentials_file")
        return self


class BasicAuth(_Strict):
    """HTTP basic authentication; username and password inline or read from files."""

    username: str = Field("", description="the user name")
    username_file: str | None = Field(None, description="file holding the user name (instead of username)")
    password: Secret | None = Field(None, description="the password (prefer password_file)")
    password_file: str | None = Field(None, description="file holding the password, read again for every request")

    @field_validator("password")
    @classmethod
    def _safe(cls, v: SecretStr | None) -> SecretStr | None:
        return _secret_safe(v)

    @field_validator("username")
    @classmethod
    def _user(cls, v: str) -> str:
        problem = unsafe_characters(v)
        if problem:
            raise ValueError(f"the user name {problem}")
        if ":" in v:
            raise ValueError("a basic-auth user name cannot contain ':' (RFC 7617)")
        return v

    @model_validator(mode="after")
    def _sources(self) -> BasicAuth:
        if self.username and self.username_file:
            raise ValueError("set at most one of username and username_file")
        if self.password is not None and self.password_file is not None:
            raise ValueError("set at most one of password and password_file")
        if not self.username and not self.username_file:
            raise ValueError("set username or username_file")
        return self


class TLSConfig(_Strict):
    """TLS towards Prometheus: which CA to trust, a client certificate, the name to verify."""

    ca: str | None = Field(None, description="PEM of the CA certificate(s) to trust, inline (instead of ca_file)")
    ca_file: str | None = Field(None, description="file of the CA certificate(s) to trust instead of the system's")
    cert_file: str | None = Field(None, description="client certificate (PEM), for servers that require one")
    key_file: str | None = Field(None, description="private key of the client certificate (PEM)")
    server_name: str | None = Field(None, description="name the server certificate must carry (and SNI)")
    insecure_skip_verify: bool = Field(False, description="accept any server certificate (tests only)")
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = Field(None, description="lowest TLS version")
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = Field(None, description="highest TLS version")

    @model_validator(mode="after")
    def _pairs(self) -> TLSConfig:
        if self.ca is not None and self.ca_file is not None:
            raise ValueError("set at most one of ca and ca_file")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both or neither")
        if self.server_name is not None and (unsafe_characters(self.server_name) or not self.server_name.strip()):
            raise ValueError("server_name must be a host name")
        if (
            self.min_version
            and self.max_version
            and TLS_VERSIONS.index(self.min_version) > TLS_VERSIONS.index(self.max_version)
        ):
            raise ValueError(f"min_version {self.min_version} is above max_version {self.max_version}")
        return self


class Header(_Strict):
    """One request header: plain values, secret values and files (each file's content is one value)."""

    values: list[str] = Field(default_factory=list, description="values sent as they are")
    secrets: list[Secret] = Field(default_factory=list, description="values that are secrets (never printed)")
    files: list[str] = Field(default_factory=list, description="files whose content is a value, read per request")

    @field_validator("values")
    @classmethod
    def _plain(cls, v: list[str]) -> list[str]:
        for i, value in enumerate(v):
            problem = unsafe_characters(value)
            if problem:
                raise ValueError(f"value {i} {problem}")
        return v

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: list[SecretStr]) -> list[SecretStr]:
        for i, value in enumerate(v):
            problem = unsafe_characters(value.get_secret_value())
            if problem:
                raise ValueError(f"secret {i} {problem}")
        return v

    @model_validator(mode="after")
    def _some(self) -> Header:
        if not (self.values or self.secrets or self.files):
            raise ValueError("give the header at least one of values, secrets or files")
        return self


def redact_url(url: str) -> str:
    """``url`` with the password of its user info replaced, as Prometheus prints a proxy URL."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:xxxxx@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# A URL shown without the password of its user info, in every JSON dump.
RedactedURL = Annotated[str, PlainSerializer(redact_url, return_type=str, when_used="json")]


class PrometheusSettings(_Strict):
    """Where inferwatch's CLI and jobs read aggregated results from, and how they authenticate."""

    url: str = Field("http://127.0.0.1:9090", description="base URL of Prometheus (or a compatible API)")
    timeout_s: float = Field(10.0, gt=0, le=300, description="timeout of one query")
    retries: int = Field(3, ge=0, le=10, description="retries of a failed query before giving up")
    retry_backoff_s: float = Field(0.5, ge=0, le=30, description="first back-off between retries (doubles)")
    authorization: Authorization | None = Field(
        None, description="Authorization header, e.g. a ServiceAccount token (Prometheus's authorization)"
    )
    basic_auth: BasicAuth | None = Field(None, description="HTTP basic authentication (Prometheus's basic_auth)")
    tls_config: TLSConfig = Field(default_factory=TLSConfig, description="TLS settings (Prometheus's tls_config)")
    http_headers: dict[str, Header] = Field(
        default_factory=dict,
        max_length=50,
        description="extra request headers by name, e.g. X-Scope-OrgID: {values: [tenant-a]} for Mimir or Cortex",
    )
    proxy_url: RedactedURL | None = Field(None, description="HTTP proxy to reach Prometheus through")
    no_proxy: str | None = Field(None, description="comma-separated hosts, domains and CIDRs not to proxy")
    proxy_from_environment: bool = Field(
        False, description="use HTTP(S)_PROXY / NO_PROXY of the environment (as Prometheus, off by default)"
    )
    follow_redirects: bool = Field(True, description="follow HTTP 3xx redirects")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if urlsplit(v).username is not None:
            # A password in the URL would be printed wherever the URL is: it belongs in basic_auth.
            raise ValueError("must not carry user info (user:password@): use basic_auth")
        return v.rstrip("/")

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://", "socks5://", "socks5h://")):
            raise ValueError("must start with http://, https://, socks5:// or socks5h://")
        return v

    @field_validator("http_headers")
    @classmethod
    def _header_names(cls, v: dict[str, Header]) -> dict[str, Header]:
        seen: set[str] = set()
        for name in v:
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"setting header {name!r} is not allowed (inferwatch sets it, or it is an auth "
                                 "header: use authorization or basic_auth)")  # fmt: skip
            if name.lower() in seen:
                raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
            seen.add(name.lower())
        return v

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusSettings:
        if self.authorization is not None and self.basic_auth is not None:
            raise ValueError("set at most one of authorization and basic_auth")
        if self.proxy_url is not None and self.proxy_from_environment:
            raise ValueError("set at most one of proxy_url and proxy_from_environment")
        if self.no_proxy is not None and self.proxy_url is None:
            raise ValueError("no_proxy needs proxy_url")
        return self

    def with_url(self, url: str) -> PrometheusSettings:
        """These settings for another URL (a command's --prometheus flag); validated like the file."""
        data: dict[str, Any] = {**self.model_dump(exclude_unset=False), "url": url}
        return PrometheusSettings.model_validate(data)

    def inline_secrets(self) -> list[str]:
        """Dotted paths of the secrets written into these settings (not read from files)."""
        paths = []
        if self.authorization is not None and self.authorization.credentials is not None:
            paths.append("authorization.credentials")
        if self.basic_auth is not None and self.basic_auth.password is not None:
            paths.append("basic_auth.password")
        paths += [f"http_headers.{name}.secrets" for name, h in self.http_headers.items() if h.secrets]
        if self.proxy_url is not None and urlsplit(self.proxy_url).password is not None:
            paths.append("proxy_url")
        return paths
