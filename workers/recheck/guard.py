"""Outbound request guard: refuse server-side request forgery for URLs that users typed in.

Every request (and so every redirect hop, since httpx calls the transport once per hop) has its
host resolved here, every resolved address checked against an ``AddressPolicy``, and the request
then pinned to the checked address: the URL's host is replaced by the IP while the ``Host``
header and, for https, the TLS server name stay the original host. The connection therefore goes
to exactly the address that was checked; DNS cannot change its answer in between (rebinding).

With ``decision_ttl`` > 0 a host's decision (its checked address, or its refusal) is kept that
long, and concurrent look-ups of one host share one resolution: a batch resolves each host once.
The inner transport is ``FastTransport`` unless given; a transport with ``send_pinned`` gets the
address directly, any other gets a copy of the request addressed to the IP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: Cloud metadata services (AWS, AWS IPv6, AWS ECS, Alibaba, Oracle): refused even when an
#: allowlisted network contains them, since reaching one from a worker leaks credentials.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "100.100.100.200",
        "192.0.0.192",
    )
)

#: Not reachable on the public internet, refused even where a Python version's ``is_global``
#: table disagrees (the table changed between 3.11 and 3.13).
NON_PUBLIC_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


class DestinationRefused(httpx.TransportError):
    """The guard refused to connect: the destination is not public and not allowlisted."""

    def __init__(self, reason: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(reason, request=request)
        self.reason = reason


class ResolutionFailed(httpx.ConnectError):
    """The host name did not resolve to any address."""


def embedded_addresses(address: IPAddress) -> Iterator[IPAddress]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo
    if address in _NAT64:
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _is_public_alone(address: IPAddress) -> bool:
    """Whether one address, taken by itself, is a globally routable unicast address."""
    if any(address in network for network in NON_PUBLIC_NETWORKS):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def is_public_address(address: IPAddress) -> bool:
    """Whether an address, and every IPv4 address embedded in it, is public."""
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in _NAT64
    ):
        # These forms reach the embedded IPv4 address; judge that one alone.
        return all(_is_public_alone(embedded) for embedded in embedded_addresses(address))
    return _is_public_alone(address) and all(
        _is_public_alone(embedded) for embedded in embedded_addresses(address)
    )


class AddressPolicy:
    """Which destinations may be fetched: public addresses plus an explicit allowlist."""

    def __init__(self, allowlist: Iterable[str] = ()) -> None:
        self.hosts: frozenset[str]
        self.networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
        hosts: set[str] = set()
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw_entry in allowlist:
            entry = raw_entry.strip()
            if not entry:
                continue
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]")))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        self.hosts = frozenset(hosts)
        self.networks = tuple(networks)

    def is_allowlisted(self, address: IPAddress) -> bool:
        """Whether an address (or the IPv4 address it maps) is inside an allowlisted network."""
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(candidate in network for candidate in candidates for network in self.networks)

    def check(self, host: str, addresses: list[IPAddress]) -> None:
        """Raise ``DestinationRefused`` unless every address of ``host`` may be fetched."""
        name = host.lower().rstrip(".")
        shown = name[:100]
        if not addresses:
            raise DestinationRefused(f"{shown} has no address to check")
        for address in addresses:
            if address in METADATA_ADDRESSES or any(
                embedded in METADATA_ADDRESSES for embedded in embedded_addresses(address)
            ):
                raise DestinationRefused(f"{shown} resolves to a cloud metadata address")
        if name in self.hosts:
            return
        for address in addresses:
            if not (self.is_allowlisted(address) or is_public_address(address)):
                raise DestinationRefused(f"{shown} resolves to non-public address {address}")


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve a host name with the operating system's resolver, without blocking the loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _protocol, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def ip_literal(host: str) -> IPAddress | None:
    """The address a host literally names, None for a host name; refuses ambiguous numbers."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as error:
            raise DestinationRefused(f"{host[:100]} is not a valid IPv6 address") from error
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        # Resolvers read 2130706433, 0x7f.1 or 0177.0.0.1 as 127.0.0.1 (inet_aton); only the
        # canonical dotted quad is accepted, so what is checked is what is connected to.
        try:
            return ipaddress.IPv4Address(host)
        except ValueError as error:
            raise DestinationRefused(
                f"{host[:100]} is a numeric host not in dotted-quad form"
            ) from error
    return None


#: Most host decisions a guard keeps; past this the cache starts again (bounded memory).
MAX_CACHED_DECISIONS = 4096


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks and pins every request's destination address."""

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        resolver: Resolver | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
        decision_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        **transport_options: Any,
    ) -> None:
        # HTTP/2 stays off: it would need the h2 package and may coalesce hosts on one connection.
        transport_options["http2"] = False
        self.policy = policy
        self.resolver: Resolver = resolver or system_resolver
        if inner is None:
            from workers.recheck.transport import FastTransport

            inner = FastTransport(**transport_options)
        self.inner = inner
        self.decision_ttl = decision_ttl
        self.clock = clock
        # host:port -> (expires at, checked address or the refusal, the address as text or None);
        # futures for look-ups under way.
        self._decisions: dict[
            tuple[str, int], tuple[float, IPAddress | DestinationRefused, str | None]
        ] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[IPAddress]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request's destination, then send it pinned to the checked address."""
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"scheme {url.scheme[:20]!r} is not fetched", request=request
            )
        host = url.raw_host.decode("ascii").lower().rstrip(".")
        port = url.port or (443 if url.scheme == "https" else 80)
        cached = self._decisions.get((host, port)) if self.decision_ttl > 0 else None
        if cached is not None and cached[0] > self.clock() and cached[2] is not None:
            # Fast path: a checked address of this host, and its text, from the decision cache.
            address, address_text = cached[1], cached[2]
        else:
            try:
                address = await self._checked_address(host, port, request)
            except DestinationRefused as refusal:
                refusal.request = request
                raise
            address_text = str(address)
        send_pinned = getattr(self.inner, "send_pinned", None)
        if send_pinned is not None:
            server_name = url.raw_host.decode("ascii") if url.scheme == "https" else None
            return await send_pinned(request, address_text, server_name)
        if address_text == host:
            return await self.inner.handle_async_request(request)
        return await self.inner.handle_async_request(_pinned(request, address))

    async def _checked_address(self, host: str, port: int, request: httpx.Request) -> IPAddress:
        """The address to connect to for host:port, checked against the policy (or refused)."""
        key = (host, port)
        if self.decision_ttl > 0:
            cached = self._decisions.get(key)
            if cached is not None and cached[0] > self.clock():
                decision = cached[1]
                if isinstance(decision, DestinationRefused):
                    raise DestinationRefused(decision.reason)
                return decision
            pending = self._pending.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
        future: asyncio.Future[IPAddress] = asyncio.get_running_loop().create_future()
        if self.decision_ttl > 0:
            self._pending[key] = future
        try:
            address = await self._decide(host, request)
        except DestinationRefused as refusal:
            self._remember(key, refusal)
            future.set_exception(DestinationRefused(refusal.reason))
            raise
        except BaseException as failure:
            # Resolution failures are not cached: the next check asks the resolver again.
            future.set_exception(failure)
            raise
        else:
            self._remember(key, address)
            future.set_result(address)
            return address
        finally:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved here, so waiters-less failures are not logged
            self._pending.pop(key, None)

    async def _decide(self, host: str, request: httpx.Request) -> IPAddress:
        literal = ip_literal(host)
        if literal is not None:
            self.policy.check(host, [literal])
            return literal
        addresses = await self._resolve(host, request)
        self.policy.check(host, addresses)
        return addresses[0]

    def _remember(self, key: tuple[str, int], decision: IPAddress | DestinationRefused) -> None:
        if self.decision_ttl <= 0:
            return
        if len(self._decisions) >= MAX_CACHED_DECISIONS:
            self._decisions.clear()
        text = None if isinstance(decision, DestinationRefused) else str(decision)
        self._decisions[key] = (self.clock() + self.decision_ttl, decision, text)

    async def aclose(self) -> None:
        """Close the inner transport and its connection pool."""
        await self.inner.aclose()

    async def _resolve(self, host: str, request: httpx.Request) -> list[IPAddress]:
        """Resolve within the request's connect timeout; failures are connect errors."""
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        connect_timeout = request.extensions.get("timeout", {}).get("connect")
        try:
            async with asyncio.timeout(connect_timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError as error:
            raise httpx.ConnectTimeout("resolving the host timed out", request=request) from error
        except OSError as error:
            raise ResolutionFailed(
                f"could not resolve {host[:100]}: {error}", request=request
            ) from error
        if not addresses:
            raise ResolutionFailed(f"{host[:100]} resolved to no address", request=request)
        return addresses


def _pinned(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """A copy of ``request`` addressed to ``address``, keeping Host header and TLS server name."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        # httpcore sends this as SNI and verifies the certificate against it.
        extensions["sni_hostname"] = request.url.raw_host.decode("ascii")
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )
