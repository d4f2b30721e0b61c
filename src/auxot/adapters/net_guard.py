"""The address check for URLs that Auxot calls on behalf of whoever configured them
(HTTP tools; callbacks): a guard against server-side request forgery.

A URL's host is resolved and every address it resolves to is checked before anything is
sent. Refused unless allowed: loopback, private, link-local, shared (CGNAT), multicast,
reserved, unspecified and any other non-global address, and cloud metadata endpoints.
``allow_private`` lifts the refusal of non-global addresses (for a deployment whose tools
live on its own network) but never of the metadata endpoints; ``allow`` lists host names
or networks (CIDR) that are always allowed, metadata included if listed explicitly.

The caller connects to the very address that was checked (``Target.address``), sending
the original host name as ``Host`` and TLS server name, so a name that resolves
differently a moment later (DNS rebinding) cannot slip past the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import attrs

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services (AWS, GCP, Azure, OpenStack; AWS over IPv6; Alibaba) and
# container credential endpoints (AWS ECS, over IPv4 and IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "169.254.170.2",
        "fd00:ec2::23",
    )
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 and
# RFC 8215): a gateway turns them into connections to that IPv4 address.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AddressRefusedError(ValueError):
    """The URL may not be called: its scheme, or an address its host resolves to."""


Resolver = Callable[[str, int], Sequence[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@attrs.frozen
class Target:
    """A checked URL: ``url`` with its host replaced by the checked ``address``."""

    url: str
    host: str
    address: str
    port: int

    @property
    def host_header(self) -> str:
        default = 443 if self.url.startswith("https:") else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@attrs.frozen
class NetGuard:
    allow_private: bool = False
    allow: tuple[str, ...] = ()
    resolve: Resolver = resolve_host
    _hosts: frozenset[str] = attrs.field(init=False)
    _networks: tuple[Network, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        hosts, networks = _split(self.allow)
        object.__setattr__(self, "_hosts", hosts)
        object.__setattr__(self, "_networks", networks)

    def check(self, url: str) -> Target:
        """The target to connect to, or AddressRefusedError. Resolves the host name."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AddressRefusedError(f"only http:// and https:// URLs may be called: {url!r}")
        host = parts.hostname.lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise AddressRefusedError(f"invalid port in {url!r}: {exc}") from None
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                resolved = self.resolve(host, port)
                addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolved]
            except OSError as exc:
                raise AddressRefusedError(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise AddressRefusedError(f"{host} resolves to no address")
        for address in addresses:
            reason = self.refusal(host, address)
            if reason is not None:
                raise AddressRefusedError(f"{host} resolves to {address}, {reason}")
        chosen = str(addresses[0])
        netloc = f"[{chosen}]" if ":" in chosen else chosen
        if parts.port is not None:
            netloc += f":{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        return Target(url=pinned, host=host, address=chosen, port=port)

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why ``address`` (of ``host``) may not be called; None when it may."""
        address = _embedded_ipv4(address)
        if host in self._hosts or any(address in n for n in self._networks):
            return None
        if address in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if address.is_multicast:
            return "a multicast address"
        if self.allow_private or address.is_global:
            return None
        return (
            "a loopback, private, link-local or reserved address "
            "(allow it with AUXOT_ALLOW_PRIVATE_URLS or AUXOT_URL_ALLOW_LIST)"
        )


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), else itself: such
    an address reaches the IPv4 host, so it is judged as that host."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _split(entries: Iterable[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return frozenset(hosts), tuple(networks)
