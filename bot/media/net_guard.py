"""Refuse URLs that would make the bot reach into its own network (SSRF guard).

A provider hands us a result URL and we download it; a hostile or compromised provider could
point it at 127.0.0.1, the cloud metadata address or a LAN service. Three parts, one reading:

- `parse_url` is the only parser for every URL the bot accepts or follows (PUBLIC_BASE_URL and
  the webhook URL at start-up, result URLs and each redirect): it reads the URL as httpx, the
  client that connects, reads it, so the check and the connection can never disagree on the host
  (`\\@`, `%`, odd ports...).
- `check_public_url` resolves the host and refuses it unless every address is public. The
  decision is on the address, never on the scheme: a result may come over http or https.
- `guarded_transport` resolves and checks again when it connects, and connects to exactly the
  address it checked (TLS is still verified against the host name): a DNS answer that changes
  between the check and the connection (rebinding) cannot reach a private address.

Tests and local development set `allow_private`, which skips the address checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that can only mean this machine or a local network, whatever DNS says.
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_NAT64_PREFIXES = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # well-known NAT64
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): the low 32 bits
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_PRIVATE = "a private, loopback or reserved IP address"
_SCHEMES = ("http", "https")


class UnsafeURL(ValueError):
    """The URL must not be fetched; `reason` says why (it never repeats the URL's path)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedURL:
    """What the guard decides on: scheme, host (lower case, IDNA-encoded) and port."""

    scheme: str
    host: str
    port: int


def parse_url(url: str, *, require_https: bool = False) -> ParsedURL:
    """The one reading of a URL: http(s), a host, no credentials, no `%` or blanks in the host."""
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in url):
        raise UnsafeURL("malformed URL: blank, control or backslash character")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise UnsafeURL("malformed URL") from exc
    scheme = parsed.scheme
    allowed = ("https",) if require_https else _SCHEMES
    if scheme not in allowed:
        raise UnsafeURL(f"scheme {scheme or '(none)'!r} is not allowed")
    if parsed.userinfo or "@" in parsed.netloc.decode("ascii", "replace"):
        raise UnsafeURL("credentials in the URL are not allowed")
    host = parsed.raw_host.decode("ascii", "replace").rstrip(".").lower()
    if not host:
        raise UnsafeURL("no host")
    if "%" in host:
        # A zone id ("fe80::1%25eth0") or a percent-encoded name: resolvers read these in ways
        # a literal parser cannot predict, so they are never fetched.
        raise UnsafeURL(f"host {host!r} is not a public address ('%' in the host)")
    if port is not None and not 0 < port < 65536:
        raise UnsafeURL("malformed URL: port out of range")
    return ParsedURL(scheme, host, port or (443 if scheme == "https" else 80))


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
    """The IPv4 address an IPv4-mapped or -compatible, 6to4, Teredo or NAT64 address reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where packets end up
    if any(ip in prefix for prefix in _NAT64_PREFIXES) or (
        ip in _IPV4_COMPATIBLE and int(ip) > 1  # "::" and "::1" are themselves, not IPv4
    ):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _parse_literal(host: str) -> IPAddress | None:
    """The address a host literal stands for, including legacy IPv4 forms such as "127.1"."""
    bare = host.strip("[]")
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


def host_problem(host: str) -> str | None:
    """Why a host is, without any DNS look-up, plainly not public; None when it may be."""
    name = host.strip().rstrip(".").lower()
    if not name:
        return "an empty host"
    if "%" in name:
        return "a host with '%' (a zone id or an encoded name)"
    address = _parse_literal(name)
    if address is not None:
        if is_public_address(address):
            return None
        standard = _is_standard_literal(name.strip("[]"))
        return _PRIVATE if standard else f"a numeric address for {address}, {_PRIVATE}"
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return "a local name"
    if "." not in name:
        # A single-label name can only be resolved by a local search domain or hosts file.
        return "a single-label name"
    if name.rsplit(".", 1)[-1].isdigit():
        return "a numeric address"  # no public top-level domain is numeric
    return None


def _is_standard_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_private_host_literal(host: str) -> bool:
    """True when a host is, without any DNS look-up, plainly not public (for config checks)."""
    return host_problem(host) is not None


def public_url_problem(url: str) -> str | None:
    """Why `url` cannot be one of our own public URLs (https, public host); None when it can."""
    try:
        parsed = parse_url(url)
    except UnsafeURL as exc:
        return exc.reason
    if parsed.scheme != "https":
        return "expected an https:// URL: Telegram and the providers refuse plain http://"
    reason = host_problem(parsed.host)
    return f"{parsed.host!r} is {reason}, not a public host" if reason else None


async def check_public_url(url: str, *, allow_private: bool, require_https: bool = False) -> None:
    """Raise UnsafeURL unless `url` may be fetched: http(s), no credentials, public addresses."""
    parsed = parse_url(url, require_https=require_https)
    if allow_private:
        return
    await resolve_public(parsed.host, parsed.port)


async def resolve_public(host: str, port: int) -> list[IPAddress]:
    """Every address `host` stands for, all of them public; else UnsafeURL."""
    if "%" in host:
        raise UnsafeURL(f"host {host!r} is not a public address ('%' in the host)")
    addresses = await _resolve(host, port)
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeURL(f"host {host!r} is not a public address")
    return addresses


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
        text = str(sockaddr[0])
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError as exc:  # "fe80::1%eth0": a scoped address is never public
            raise UnsafeURL(f"host {host!r} is not a public address") from exc
    if not addresses:
        raise UnsafeURL(f"host {host!r} does not resolve")
    return addresses


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to an address it has just resolved and checked, never to the name itself."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface names it so
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._allow_private:
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options,
            )  # fmt: skip
        try:
            addresses = await resolve_public(host.strip("[]").lower(), port)
        except UnsafeURL as exc:
            # A ConnectError is what every caller already handles as "could not connect".
            raise httpcore.ConnectError(f"refused by the SSRF guard: {exc.reason}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                # TLS is started later by httpcore with server_hostname = the URL's host, so
                # the certificate is still verified against the name, not this address.
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface names it so
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    allow_private: bool,
    *,
    limits: httpx.Limits | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport that connects only to checked public addresses (see the module doc).

    No proxy from the environment: a proxy would connect on our behalf to whatever it resolves.
    """
    transport = httpx.AsyncHTTPTransport(
        verify=verify, trust_env=False, limits=limits or httpx.Limits()
    )
    pool = transport._pool  # httpx offers no other way to choose httpcore's network backend
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    pool._network_backend = _PinnedBackend(allow_private)
    return transport
