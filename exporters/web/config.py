"""The exporter's web configuration file, as Prometheus's exporter-toolkit reads it (``--web.config.file``).

The same file that secures node-exporter or dcgm-exporter secures inferwatch's exporter::

    tls_server_config:
      cert_file: tls.crt            # relative paths are relative to this file, as in exporter-toolkit
      key_file: tls.key
      client_ca_file: ca.crt
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12
    http_server_config:
      headers: {X-Content-Type-Options: nosniff}
    basic_auth_users:
      prometheus: $2b$12$…          # bcrypt hashes (htpasswd -nBC 12 "" | tr -d ':\\n')

Unknown keys are errors, as exporter-toolkit's strict YAML makes them. A few keys exporter-toolkit
takes need Go's TLS stack and are refused with a reason rather than ignored (a file that asks
for them asks for something this exporter would not do): inline ``cert``/``key``, ``cipher_suites``,
``curve_preferences``, ``client_allowed_sans``, ``rate_limit``, and the client-auth types that
request a certificate without verifying it (``RequestClientCert``, ``RequireAnyClientCert``).

`WebConfigFile` re-reads the file when it changes (checked at each request, a `stat`): a broken
edit makes requests fail with 500, as exporter-toolkit does, until the file is fixed.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from inferwatch.errors import ConfigError, FieldProblem

log = logging.getLogger(__name__)

ClientAuthType = Literal[
    "",
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "RequireClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
# Python's ssl module verifies every client certificate it asks for: it cannot ask for one and
# accept it unverified.
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# The response headers exporter-toolkit lets a web config set, and the values it allows (None: any).
EXTRA_HTTP_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_NOT_SUPPORTED = "is not supported by inferwatch's exporter (Python's TLS stack)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSServerConfig(_Strict):
    """``tls_server_config``: the server certificate, client certificates, TLS versions."""

    cert_file: str = ""
    key_file: str = ""
    cert: str = ""
    key: str = ""
    client_ca_file: str = ""
    client_ca: str = ""
    client_auth_type: ClientAuthType = ""
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: list[str] = Field(default_factory=list)
    curve_preferences: list[str] = Field(default_factory=list)
    prefer_server_cipher_suites: bool = True
    client_allowed_sans: list[str] | None = None

    @property
    def enabled(self) -> bool:
        """Whether the file asks for TLS at all (exporter-toolkit's IsEnabled)."""
        return any((self.cert_file, self.key_file, self.cert, self.key, self.client_ca_file, self.client_ca,
                    self.client_auth_type))  # fmt: skip

    @property
    def verifies_clients(self) -> bool:
        """Whether client certificates are asked for (and verified against the client CA)."""
        return self.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")


class HTTPServerConfig(_Strict):
    """``http_server_config``: HTTP/2 (the exporter speaks HTTP/1.1 either way) and extra response headers."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _allowed(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if name not in EXTRA_HTTP_HEADERS:
                raise ValueError(f"HTTP header {name!r} can not be configured")
            allowed = EXTRA_HTTP_HEADERS[name]
            if allowed is not None and value not in allowed:
                raise ValueError(f"invalid value for {name}: expected one of {list(allowed)}, got {value!r}")
        return v


class WebConfig(_Strict):
    """The whole web configuration file (exporter-toolkit's Config)."""

    tls_server_config: TLSServerConfig = Field(default_factory=TLSServerConfig)
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    rate_limit: dict[str, Any] | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt(cls, v: dict[str, str]) -> dict[str, str]:
        for user, hashed in v.items():
            cost = hashed[4:6] if hashed.startswith(BCRYPT_PREFIXES) else ""
            if not (cost.isdigit() and 4 <= int(cost) <= 31 and len(hashed) == 60):
                # The value is never quoted: a plain password put here by mistake is a secret.
                raise ValueError(f"user {user!r}: not a bcrypt hash ($2a$/$2b$/$2y$, 60 characters)")
        return v


def _unsupported(t: TLSServerConfig, rate_limit: dict[str, Any] | None) -> list[FieldProblem]:
    where = "tls_server_config"
    problems = []
    if t.cert or t.key:
        problems.append(FieldProblem(f"{where}.cert", f"inline cert/key {_NOT_SUPPORTED}: use cert_file and key_file"))
    for name in ("cipher_suites", "curve_preferences"):
        if getattr(t, name):
            problems.append(FieldProblem(f"{where}.{name}", f"{_NOT_SUPPORTED}; leave it out for OpenSSL's defaults"))
    if t.client_allowed_sans is not None:
        problems.append(FieldProblem(f"{where}.client_allowed_sans", _NOT_SUPPORTED))
    if t.client_auth_type in UNVERIFIED_CLIENT_AUTH:
        problems.append(
            FieldProblem(f"{where}.client_auth_type", f"{t.client_auth_type} {_NOT_SUPPORTED}, which verifies every "
                         "client certificate it asks for: use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
        )  # fmt: skip
    if rate_limit:
        problems.append(FieldProblem("rate_limit", f"{_NOT_SUPPORTED.split(' (')[0]}"))
    return problems


def _resolve(t: TLSServerConfig, base: Path) -> TLSServerConfig:
    def join(p: str) -> str:
        return str(base / p) if p and not os.path.isabs(p) else p

    return t.model_copy(
        update={"cert_file": join(t.cert_file), "key_file": join(t.key_file), "client_ca_file": join(t.client_ca_file)}
    )


def build_server_context(t: TLSServerConfig) -> ssl.SSLContext:
    """The server's SSLContext for ``t`` (certificate loaded now); raises ssl.SSLError or OSError."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[t.min_version]
    ctx.maximum_version = TLS_VERSIONS[t.max_version]
    ctx.load_cert_chain(t.cert_file, t.key_file)
    if t.verifies_clients:
        ctx.load_verify_locations(cafile=t.client_ca_file or None, cadata=t.client_ca or None)
        ctx.verify_mode = ssl.CERT_REQUIRED if t.client_auth_type == "RequireAndVerifyClientCert" else ssl.CERT_OPTIONAL
    if t.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _tls_problems(t: TLSServerConfig) -> list[FieldProblem]:
    where = "tls_server_config"
    if not t.enabled:
        return []
    problems = []
    if not t.cert_file:
        problems.append(FieldProblem(f"{where}.cert_file", "missing one of cert or cert_file"))
    if not t.key_file:
        problems.append(FieldProblem(f"{where}.key_file", "missing one of key or key_file"))
    if (t.client_ca_file or t.client_ca) and t.client_auth_type in ("", "NoClientCert"):
        problems.append(FieldProblem(f"{where}.client_auth_type", "a client CA is set without a client auth type"))
    if t.verifies_clients and not (t.client_ca_file or t.client_ca):
        problems.append(FieldProblem(f"{where}.client_ca_file", f"{t.client_auth_type} needs the client CA"))
    for name in ("cert_file", "key_file", "client_ca_file"):
        path = getattr(t, name)
        if path and not Path(path).is_file():
            problems.append(FieldProblem(f"{where}.{name}", f"{path} is not a readable file"))
    if problems:
        return problems
    try:
        build_server_context(t)
    except (ssl.SSLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or str(err)
        problems.append(FieldProblem(where, f"the certificate, key or client CA cannot be loaded ({reason})"))
    return problems


def parse_web_config(data: Any, path: Path) -> WebConfig:
    """Validate the parsed YAML of the file at ``path``; raises ConfigError naming each field."""
    source = f"--web.config.file {path}"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [FieldProblem("", f"top level must be a mapping, not {type(data).__name__}")])
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as err:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]), str(e["msg"]).removeprefix("Value error, "))
            for e in err.errors()
        ]
        raise ConfigError(source, problems) from None
    tls = _resolve(config.tls_server_config, path.parent)
    problems = _unsupported(tls, config.rate_limit) or _tls_problems(tls)
    if problems:
        raise ConfigError(source, problems)
    return config.model_copy(update={"tls_server_config": tls})


def load_web_config(path: Path) -> WebConfig:
    """Read and validate the web configuration file; raises ConfigError (exit 2) naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError(f"--web.config.file {path}", [FieldProblem("", f"cannot be read ({reason})")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--web.config.file {path}", [FieldProblem("", f"not YAML: {err}")]) from None
    return parse_web_config(data, path)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass(frozen=True)
class Loaded:
    """One reading of the file: the configuration, or None while the file is broken."""

    config: WebConfig | None
    signature: tuple[int, int, int] | None


class WebConfigFile:
    """The web configuration file, read again when it changes (mtime, size or inode: a Secret's swap)."""

    def __init__(self, path: Path, config: WebConfig | None = None) -> None:
        """``config``: the file as just loaded at start-up (loaded now when None; errors raise)."""
        self.path = path
        self._lock = threading.Lock()
        signature = _signature(path)
        self._loaded = Loaded(config or load_web_config(path), signature)

    def current(self) -> WebConfig | None:
        """The configuration as the file says now; None while it is broken (requests then fail closed)."""
        loaded = self._loaded
        signature = _signature(self.path)
        if signature == loaded.signature:
            return loaded.config
        with self._lock:
            if self._loaded.signature != signature:
                self._loaded = self._reload(signature)
            return self._loaded.config

    def _reload(self, signature: tuple[int, int, int] | None) -> Loaded:
        try:
            config = load_web_config(self.path)
        except ConfigError as err:
            log.error("web config %s is invalid; answering 500 until it is fixed: %s", self.path,
                      str(err).replace("\n", " "))  # fmt: skip
            return Loaded(None, signature)
        previous = self._loaded.config
        if previous is not None and previous.tls_server_config.enabled != config.tls_server_config.enabled:
            log.warning("web config %s switches TLS %s: the listener changes only at restart", self.path,
                        "on" if config.tls_server_config.enabled else "off")  # fmt: skip
        log.info("web config %s reloaded users=%d tls=%s", self.path, len(config.basic_auth_users),
                 config.tls_server_config.enabled)  # fmt: skip
        return Loaded(config, signature)
