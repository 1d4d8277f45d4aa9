"""Refuse URLs that would make the bot fetch from its own network (SSRF guard).

A provider hands us a result URL and we download it; a hostile or compromised provider could
point it at 127.0.0.1, the cloud metadata address or a LAN service. Outside tests every URL must be
HTTPS, carry no credentials, and resolve only to global addresses. Tests and local development set
`allow_private`, which also allows plain http://.

Limit: the HTTP client resolves the name again when it connects, so a DNS answer that changes
between the two look-ups (rebinding) is not caught here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that can only mean this machine or a local network, whatever DNS says.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeURL(ValueError):
    """The URL must not be fetched; `reason` says why (it never repeats the URL itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_public_address(ip: IPAddress) -> bool:
    """True for a globally routable unicast address, looking inside IPv6 wrappers of IPv4."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
        if ip.is_site_local:  # deprecated fec0::/10, still routed inside some networks
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4, Teredo or NAT64 address reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where packets end up
    if ip in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _parse_literal(host: str) -> IPAddress | None:
    """The address a host literal stands for, including legacy IPv4 forms such as "127.1"."""
    bare = host.strip("[]").split("%", 1)[0]  # brackets and an IPv6 zone id are not the address
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare) and bare[0].isdigit():
        try:
            # inet_aton accepts what resolvers accept: "127.1", "0x7f000001", "2130706433".
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def is_private_host_literal(host: str) -> bool:
    """True when a host is, without any DNS look-up, plainly not public (for config checks)."""
    return private_host_reason(host) is not None


def private_host_reason(host: str) -> str | None:
    """Why a host is, without any DNS look-up, plainly not public (None: it may be public).

    The words fit "'<host>' is <reason>, not a public host" (bot/config.py's message)."""
    name = host.strip().rstrip(".").lower()
    address = _parse_literal(name)
    if address is not None:
        if is_public_address(address):
            return None
        try:
            ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
        except ValueError:  # "127.1", "0x7f000001": what resolvers accept, not a standard form
            return "a numeric address"
        return "a private, loopback or reserved IP address"
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return "a local name"
    if "." not in name:
        # A single-label name can only be resolved by a local search domain or hosts file.
        return "a single-label name"
    # No public top-level domain is numeric: "10.0.0.999" is a mistyped address, not a name.
    return "a numeric address" if name.rsplit(".", 1)[-1].isdigit() else None


async def check_public_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeURL unless `url` may be fetched (https, no credentials, global addresses)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("malformed URL") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        raise UnsafeURL(f"scheme {parts.scheme or '(none)'!r} is not allowed")
    if "@" in parts.netloc:
        raise UnsafeURL("credentials in the URL are not allowed")
    host = parts.hostname
    if not host:
        raise UnsafeURL("no host")
    if allow_private:
        return
    for address in await _resolve(host, port or 443):
        if not is_public_address(address):
            raise UnsafeURL(f"host {host!r} is not a public address")


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host stands for: the literal itself, or what the resolver answers."""
    literal = _parse_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"host {host!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        except ValueError as exc:
            raise UnsafeURL(f"host {host!r} resolved to an unparsable address") from exc
    if not addresses:
        raise UnsafeURL(f"host {host!r} does not resolve")
    return addresses
