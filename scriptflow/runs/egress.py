"""Whether a runner may reach an address: private, loopback, link-local (cloud metadata) and
other non-public ranges are off limits unless the server allows private egress."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

Resolver = Callable[[str], Iterable[str]]


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to (empty if it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def blocked_reason(url: str, resolve: Resolver = system_resolver) -> str | None:
    """Why a runner may not open ``url`` when private egress is off, or None if it may."""
    host = urlsplit(url).hostname
    if not host:
        return None
    addresses = [host] if _is_ip_literal(host) else list(resolve(host))
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        return f"{host} resolves to a non-public address ({private[0]})"
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
