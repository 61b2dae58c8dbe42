"""Pod networks for fake pods: a network namespace per pod, joined to this host by a veth pair.

Endpoints and EndpointSlices refuse loopback addresses, so a pod a ServiceMonitor should find needs
a real-looking IP. Each `PodNetwork` is a namespace the test creates (``ip netns``), with one /30 of
198.18.0.0/15 (RFC 2544's benchmarking range, never routed) between the host end and the pod end;
the processes of the "pod" run inside it (``ip netns exec``), so they listen on the ports their
spec names without colliding with anything else on this machine. Only addresses created here are
ever used. Needs root (CI and the sessions run as root).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

BASE = ipaddress.IPv4Network("198.18.0.0/15")
SUBNETS_PER_RUN = 16


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def available() -> str:
    """Why pod networks cannot be made here ('' when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return "" if probe.returncode == 0 else f"`ip netns` fails: {probe.stderr.strip()}"


@dataclass(frozen=True)
class PodNetwork:
    name: str
    host_if: str
    host_ip: str
    pod_ip: str

    @classmethod
    def create(cls, index: int) -> PodNetwork:
        """Pod network ``index`` (0..15) of this test process: a /30 derived from the process id, so
        concurrent runs on one machine take different addresses and names."""
        run = os.getpid() % (BASE.num_addresses // (4 * SUBNETS_PER_RUN))
        subnet = ipaddress.IPv4Network((int(BASE.network_address) + 4 * (run * SUBNETS_PER_RUN + index), 30))
        host_ip, pod_ip = (str(a) for a in subnet.hosts())
        tag = f"{os.getpid() % 100000}x{index}"
        net = cls(name=f"iwpod{tag}", host_if=f"iwh{tag}", host_ip=host_ip, pod_ip=pod_ip)
        peer = f"iwp{tag}"
        _ip("netns", "add", net.name)
        try:
            _ip("link", "add", net.host_if, "type", "veth", "peer", "name", peer, "netns", net.name)
            _ip("addr", "add", f"{host_ip}/30", "dev", net.host_if)
            _ip("link", "set", net.host_if, "up")
            for args in (("addr", "add", f"{pod_ip}/30", "dev", peer), ("link", "set", peer, "up"),
                         ("link", "set", "lo", "up"), ("route", "add", "default", "via", host_ip)):  # fmt: skip
                _ip("-n", net.name, *args)
        except OSError:
            net.delete()
            raise
        return net

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the pod's network namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        """Remove the namespace (its veth end, and so the host's, go with it)."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
