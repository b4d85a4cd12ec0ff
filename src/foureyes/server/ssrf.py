"""The guard against server-side request forgery for outbound webhooks and Web Push.

A webhook URL is chosen by whoever manages a project, a push endpoint by a reviewer's browser,
and the server POSTs to it from inside the network it runs in. Unless ``webhook_allow_private``
(``push_allow_private`` for push endpoints) is on, a URL is refused when its host
resolves to any address that is not public: private, loopback, link-local (cloud metadata
services live there), multicast, reserved, unspecified or shared (CGNAT). Every address the
name resolves to is checked, so a name with one public and one private address is refused. An
IPv6 address that embeds an IPv4 address (IPv4-mapped or -compatible, 6to4, Teredo, NAT64) is
judged by the IPv4 address as well, so ``2002:7f00:1::`` is refused like ``127.0.0.1``.

The check resolves the name itself, and the HTTP client resolves it again when it connects, so
a name whose DNS answer changes in between (DNS rebinding) is not stopped here; a network-level
egress policy is the complete answer. Redirects are never followed, so a public URL cannot
bounce the request to a private one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from foureyes.server.domain.errors import InvalidParameterError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(InvalidParameterError):
    """The URL may not be called: bad scheme, no host, unresolvable, or a non-public address."""


# IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or relay reaches:
# NAT64 (RFC 6052's well-known prefix and RFC 8215's local-use one) and SIIT's IPv4-translated
# addresses (RFC 2765).
_EMBEDDING_IN_LOW_32_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and could lead a connection to: mapped
    (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), 6to4 (``2002:AABB:CCDD::/48``),
    Teredo (``2001::/32``: its server and its client), NAT64 and IPv4-translated ones."""
    found: list[ipaddress.IPv4Address] = []
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _EMBEDDING_IN_LOW_32_BITS):
        found.append(low)
    # :: and ::1 are IPv6's own unspecified and loopback addresses, refused as such below.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        found.append(low)
    return found


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be called, or None when it is a public address. An IPv6 address
    that embeds an IPv4 address is judged by that address too."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        for inner in embedded_ipv4(address):
            reason = refusal(inner)
            if reason is not None:
                return f"{address} embeds the IPv4 address {inner}, and {reason}"
    for label, flag in (
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("an unspecified", address.is_unspecified),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    ):
        if flag:
            return f"{address} is {label} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def split_host(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; UnsafeURLError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"URLs called out must be http or https, not {parts.scheme or 'schemeless'}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURLError("the URL has an invalid port") from None
    if not parts.hostname:
        raise UnsafeURLError("the URL has no host")
    return parts.hostname, port


# The setting that lifts the guard, named in a refusal (push endpoints have their own).
WEBHOOK_SWITCH = "FOUREYES_WEBHOOK_ALLOW_PRIVATE"


def _check(host: str, infos: list[tuple[object, ...]], switch: str) -> None:
    if not infos:
        raise UnsafeURLError(f"{host} does not resolve to any address")
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = refusal(address)
        if reason is not None:
            raise UnsafeURLError(f"refused to call {host}: {reason} (set {switch}=true to allow it)")


def check_url(url: str, *, allow_private: bool, switch: str = WEBHOOK_SWITCH) -> None:
    """Raise UnsafeURLError unless ``url`` may be called (resolving its host, blocking)."""
    host, port = split_host(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"cannot resolve {host}: {exc}") from None
    _check(host, list(infos), switch)


async def check_url_async(url: str, *, allow_private: bool, switch: str = WEBHOOK_SWITCH) -> None:
    """``check_url`` without blocking the event loop."""
    host, port = split_host(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"cannot resolve {host}: {exc}") from None
    _check(host, list(infos), switch)
