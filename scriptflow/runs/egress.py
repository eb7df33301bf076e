"""Whether a runner may reach an address: private, loopback, link-local (cloud metadata) and
other non-public ranges are off limits unless the server allows private egress."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


# --- the run's egress policy (applied by the proxy in scriptflow.runs.egress_proxy) ----------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Origin:
    """A host and port a run may always reach (the scheme only picks the default port)."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Origin:
        """``http://127.0.0.1:9000`` → Origin("127.0.0.1", 9000); ValueError if not an origin."""
        parts = urlsplit(url.strip())
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {url!r}")
        return cls(parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme])


@dataclass(frozen=True)
class EgressPolicy:
    """Where a run may connect.

    Loopback, private, link-local (cloud metadata) and every other non-public address are
    refused in every mode unless they are the run's own origin or on the allow-list; public
    addresses are allowed unless ``origin_only``.
    """

    origins: tuple[Origin, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    origin_only: bool = False

    @classmethod
    def for_run(cls, base_url: str, allow: str = "", mode: str = "public") -> EgressPolicy:
        """The policy of one run: its environment's origin plus ``SCRIPTFLOW_RUN_EGRESS_ALLOW``."""
        origins, networks = parse_allow_list(allow)
        with contextlib.suppress(ValueError):
            origins = (Origin.parse(base_url), *origins)
        return cls(origins, networks, mode == "origin-only")

    def named_origin(self, host: str, port: int) -> bool:
        """The destination is spelled as one of the allowed origins."""
        return Origin(host.lower().rstrip("."), port) in self.origins

    def refusal(self, host: str, port: int, addresses: Iterable[str]) -> str | None:
        """Why ``host:port`` (resolving to ``addresses``) is refused, or None if allowed.

        Every address must pass: a name with one public and one private address is refused,
        and the proxy connects only to the addresses it checked (no second lookup to rebind).
        """
        if self.named_origin(host, port):
            return None
        resolved = [_parse_ip(a) for a in addresses]
        if not resolved:
            return f"{host} does not resolve"
        for ip in resolved:
            if ip is None:
                return f"{host} resolves to an invalid address"
            if any(ip in network for network in self.networks):
                continue
            if any(
                _is_ip_literal(o.host) and _parse_ip(o.host) == ip and o.port == port
                for o in self.origins
            ):
                continue
            if not is_public_address(str(ip)):
                return f"{host}:{port} is a non-public address ({ip}) outside the run's origin"
            if self.origin_only:
                return f"{host}:{port} is not the run's origin (egress is origin-only)"
        return None


def parse_allow_list(text: str) -> tuple[tuple[Origin, ...], tuple[IPNetwork, ...]]:
    """``http://127.0.0.1:9000, 127.0.1.0/24`` → origins and networks; ValueError on junk."""
    origins: list[Origin] = []
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "://" in item:
            origins.append(Origin.parse(item))
        else:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an origin or CIDR range: {item!r}") from None
    return tuple(origins), tuple(networks)


def _parse_ip(address: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
