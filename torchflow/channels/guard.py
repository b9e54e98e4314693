"""Where an HTTP channel may post: never into this machine, the office's private
networks or a cloud's metadata service, unless ``[notify] allow_hosts`` names
the host (an office's own receiver on its intranet).

An address is checked when it is set (literal addresses and names that can only
mean this machine) and again at every send, after the name is resolved: every
address the name resolves to must be public, and the connection goes to the
address that was checked, so a DNS answer cannot move a send inside afterwards.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from msgspec import Struct

from torchflow.i18n import N_, Text, _

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services (instance credentials live there): Alibaba Cloud's is
# in shared address space, the others link-local or unique-local.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "100.100.100.200", "169.254.169.254", "169.254.0.23", "fd00:ec2::254"))
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.tencentyun.com",
                            "instance-data", "instance-data.ec2.internal"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def kind_of(ip: IP) -> str:
    """What kind of address ``ip`` is when a channel may not post to it, else ""."""
    inner = _embedded_v4(ip)
    if inner is not None:
        return kind_of(inner) or ""
    checks = ((ip in METADATA, N_("cloud metadata")), (ip.is_loopback, N_("loopback")),
              (ip.is_link_local, N_("link-local")), (ip.is_multicast, N_("multicast")),
              (ip.is_unspecified, N_("unspecified")), (ip.is_private, N_("private")),
              (ip.is_reserved, N_("reserved")), (not ip.is_global, N_("non-public")))
    return next((kind for hit, kind in checks if hit), "")


def _embedded_v4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def literal_ip(host: str) -> IP | None:
    """``host`` as an address when it is one, in any form a resolver takes
    (``127.1``, ``2130706433``, ``0x7f.1`` all mean 127.0.0.1), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if ":" in host:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


class HostPolicy(Struct, frozen=True):
    """The hosts an office allows although they are inside: names (exact, any
    case), addresses and networks, from ``[notify] allow_hosts``."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> HostPolicy:
        names, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.names

    def allows_ip(self, ip: IP) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)

    def url_problem(self, url: str) -> Text | None:
        """Why ``url`` may not be posted to, as far as can be told without DNS:
        not http(s), no host, or an address (or a name) inside."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            return _("is not a URL; use e.g. https://hooks.example.cn/abc")
        if parts.scheme not in ("http", "https"):
            return _("must start with http:// or https://")
        host = parts.hostname or ""
        if not host:
            return _("has no host")
        if self.allows_name(host):
            return None
        ip = literal_ip(host)
        if ip is not None:
            return self.address_problem(host, ip)
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost") or name in METADATA_NAMES:
            return refusal(host, N_("loopback") if "localhost" in name
                           else N_("cloud metadata"), name)
        return None

    def address_problem(self, host: str, ip: IP) -> Text | None:
        if self.allows_name(host) or self.allows_ip(ip):
            return None
        kind = kind_of(ip)
        return refusal(host, kind, str(ip)) if kind else None

    def resolve(self, host: str, port: int) -> list[IP]:
        """Every address ``host`` resolves to, each allowed (else the refusal is
        raised as ``Refusal``): the ones a connection may use."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise LookupFailed(str(exc)) from None
        found = _unique(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
        for ip in found:
            problem = self.address_problem(host, ip)
            if problem is not None:
                raise Refusal(problem)
        return found


def refusal(host: str, kind: str, where: str) -> Text:
    if where == host:
        return _("points to {host}, a {kind} address; torchflow posts only to public hosts "
                 "unless [notify] allow_hosts lists it", host=host, kind=Text(kind))
    return _("points to {host}, a {kind} address ({where}); torchflow posts only to public "
             "hosts unless [notify] allow_hosts lists it", host=host, kind=Text(kind),
             where=where)


def _unique(ips: Iterable[IP]) -> list[IP]:
    seen: list[IP] = []
    for ip in ips:
        if ip not in seen:
            seen.append(ip)
    return seen


class Refusal(Exception):
    """A resolved address the policy refuses (carries the one-line reason)."""

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text


class LookupFailed(Exception):
    """The name did not resolve (a transient failure, retried)."""
