"""The exporter's web configuration (exporter-toolkit's ``--web.config.file``): TLS and basic authentication.

`config` reads and validates the file (and re-reads it when it changes), `auth` checks basic-auth
credentials and guards the ASGI app, `tls` is the listener's certificate, renewed without a restart.
Imported only when a web configuration file is given: bcrypt stays out of an exporter without one.
"""

from inferwatch.exporters.web.auth import PROBE_PATHS, BasicAuthVerifier, WebGuard
from inferwatch.exporters.web.config import WebConfig, WebConfigFile, load_web_config
from inferwatch.exporters.web.tls import ReloadingTLS

__all__ = [
    "PROBE_PATHS",
    "BasicAuthVerifier",
    "ReloadingTLS",
    "WebConfig",
    "WebConfigFile",
    "WebGuard",
    "load_web_config",
]
