"""Loopback ports for the local stack: a free one, whether one is free, a free range of them."""

from __future__ import annotations

import socket

# Ephemeral ports (client sockets, `free_port()` listeners) start here on Linux.
EPHEMERAL_START = 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bind_error(port: int) -> OSError | None:
    """Why 127.0.0.1:``port`` cannot be bound now (SO_REUSEADDR, as the servers bind), or None when it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as err:
            return err
        return None


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound now."""
    return bind_error(port) is None


class NoFreePortRangeError(OSError):
    """No run of consecutive free ports was found below the ephemeral range."""


def free_port_range(span: int) -> int:
    """The first port of ``span`` consecutive free ports, below the ephemeral range (32768+), so that
    client sockets and other suites' `free_port()` listeners do not land in it."""
    for base in range(24000, EPHEMERAL_START - span, 97):
        if all(port_free(p) for p in range(base, base + span)):
            return base
    raise NoFreePortRangeError(f"no {span} consecutive free loopback ports below {EPHEMERAL_START}")
