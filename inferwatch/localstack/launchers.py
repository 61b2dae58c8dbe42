"""Prometheus 3, Alertmanager and llm-d-inference-sim as processes of a `ProcessGroup`, ready when returned.

The command lines are built in one place for the demo, the tests and the benchmarks; a port left
out is a free one. Each ``start_*`` waits until the process answers and, should it exit or never
answer, raises ComponentFailedError with the end of its log (the group stops it either way).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup, http_ok, wait_for
from inferwatch.tools import Toolbox

DEFAULT_RETENTION = "400d"
DEFAULT_SIM_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"
READY_INTERVAL_S = 0.1


def loopback(port: int) -> str:
    """The base URL of a server on 127.0.0.1:``port``."""
    return f"http://127.0.0.1:{port}"


def prometheus_argv(
    tools: Toolbox,
    config_file: Path,
    data_dir: Path,
    port: int,
    *,
    retention: str = DEFAULT_RETENTION,
    lifecycle: bool = True,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Prometheus 3's command line: ``config_file``, its TSDB in ``data_dir``, on 127.0.0.1:``port``."""
    argv = [
        str(tools.path("prometheus")),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--storage.tsdb.retention.time={retention}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    if lifecycle:
        argv.append("--web.enable-lifecycle")
    return [*argv, *extra_args]


@dataclass(frozen=True)
class WebAccess:
    """How to reach a server started with a web configuration file: its CA (HTTPS) and a basic-auth user."""

    ca_file: Path | None = None
    basic_auth: tuple[str, str] | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """What a client verifies the server with."""
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file is not None else True

    def base_url(self, port: int) -> str:
        """https://127.0.0.1:``port`` with a CA, else http."""
        return f"https://127.0.0.1:{port}" if self.ca_file is not None else loopback(port)


def start_prometheus(
    group: ProcessGroup,
    tools: Toolbox,
    config_file: Path,
    data_dir: Path,
    *,
    port: int | None = None,
    name: str = "prometheus",
    retention: str = DEFAULT_RETENTION,
    lifecycle: bool = True,
    extra_args: Sequence[str] = (),
    web_config_file: Path | None = None,
    access: WebAccess | None = None,
    cwd: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
    interval: float = READY_INTERVAL_S,
) -> ManagedProcess:
    """Prometheus 3 with ``config_file`` over ``data_dir``, ready (``/-/ready``) when returned.

    ``web_config_file``: Prometheus's own ``--web.config.file`` (TLS, basic auth); ``access`` says
    how to reach it then (the CA that signed its certificate, a user of the file).
    """
    port = port or free_port()
    access = access or WebAccess()
    if web_config_file is not None:
        extra_args = [*extra_args, f"--web.config.file={web_config_file}"]
    argv = prometheus_argv(
        tools, config_file, data_dir, port, retention=retention, lifecycle=lifecycle, extra_args=extra_args
    )
    mp = group.spawn(name, argv, access.base_url(port), cwd=cwd, log_path=log_path)
    ready = http_ok(mp.url + "/-/ready", verify=access.verify(), auth=access.basic_auth)
    wait_for(ready, "/-/ready answers 200", timeout=timeout, interval=interval, watch=[mp])
    return mp


def alertmanager_argv(tools: Toolbox, config_file: Path, storage: Path, port: int) -> list[str]:
    """Alertmanager's command line: ``config_file``, its state in ``storage``, clustering off."""
    return [
        str(tools.path("alertmanager")),
        f"--config.file={config_file}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]


def start_alertmanager(
    group: ProcessGroup,
    tools: Toolbox,
    config_file: Path,
    storage: Path,
    *,
    port: int | None = None,
    cwd: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,
    interval: float = READY_INTERVAL_S,
) -> ManagedProcess:
    """Alertmanager with ``config_file``, ready (``/-/ready``) when returned."""
    port = port or free_port()
    mp = group.spawn(
        "alertmanager", alertmanager_argv(tools, config_file, storage, port), loopback(port), cwd=cwd, log_path=log_path
    )
    wait_for(http_ok(mp.url + "/-/ready"), "/-/ready answers 200", timeout=timeout, interval=interval, watch=[mp])
    return mp


def inference_sim_argv(tools: Toolbox, port: int, model: str, extra_args: Sequence[str] = ()) -> list[str]:
    """llm-d-inference-sim's command line: serving ``model`` on ``port`` (OpenAI API and vllm:* metrics)."""
    return [str(tools.path("llm-d-inference-sim")), "--port", str(port), "--model", model, *extra_args]


def start_inference_sim(
    group: ProcessGroup,
    tools: Toolbox,
    *,
    model: str = DEFAULT_SIM_MODEL,
    extra_args: Sequence[str] = (),
    port: int | None = None,
    name: str = "llm-d-inference-sim",
    cwd: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> ManagedProcess:
    """llm-d-inference-sim serving ``model``, ready (``/metrics`` answers) when returned."""
    port = port or free_port()
    mp = group.spawn(
        name, inference_sim_argv(tools, port, model, extra_args), loopback(port), cwd=cwd, log_path=log_path
    )
    wait_for(http_ok(mp.url + "/metrics"), "/metrics answers 200", timeout=timeout, watch=[mp])
    return mp
