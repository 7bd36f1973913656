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
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httpx

from platform_adapters.addresses import (
    METADATA_ADDRESSES,
    NON_PUBLIC_NETWORKS,
    REFUSED_BY_POLICY,
    AddressClass,
    IPAddress,
    address_class,
    embedded_addresses,
    is_public_address,
)
from platform_adapters.addresses import AddressPolicy as SharedAddressPolicy

__all__ = [
    "METADATA_ADDRESSES",
    "NON_PUBLIC_NETWORKS",
    "REFUSED_BY_POLICY",
    "AddressPolicy",
    "DestinationRefused",
    "GuardedTransport",
    "IPAddress",
    "ResolutionFailed",
    "address_class",
    "embedded_addresses",
    "ip_literal",
    "is_public_address",
    "system_resolver",
]

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


class DestinationRefused(httpx.TransportError):
    """The guard refused to connect: the destination is not public and not allowlisted.

    Its text is always ``REFUSED_BY_POLICY``; ``address_class`` says why ("private",
    "loopback", "metadata", "ambiguous_number", ...) without naming the host or the address.
    """

    def __init__(
        self, address_class: str = "refused", *, request: httpx.Request | None = None
    ) -> None:
        super().__init__(REFUSED_BY_POLICY, request=request)
        self.reason = REFUSED_BY_POLICY
        self.address_class = address_class


class ResolutionFailed(httpx.ConnectError):
    """The host name did not resolve to any address."""


class AddressPolicy(SharedAddressPolicy):
    """The shared address policy, refusing with ``DestinationRefused``."""

    def check(self, host: str, addresses: list[IPAddress]) -> None:
        """Raise ``DestinationRefused`` unless every address of ``host`` may be fetched."""
        found: AddressClass | None = self.refusal(host, addresses)
        if found is not None:
            raise refused(found)


def refused(address_class: str) -> DestinationRefused:
    """A refusal, logged with its class only: never the host or the address it resolved to."""
    logger.warning("outbound request refused by policy: %s destination", address_class)
    return DestinationRefused(address_class)


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
            raise refused("invalid_address") from error
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        # Resolvers read 2130706433, 0x7f.1 or 0177.0.0.1 as 127.0.0.1 (inet_aton); only the
        # canonical dotted quad is accepted, so what is checked is what is connected to.
        try:
            return ipaddress.IPv4Address(host)
        except ValueError as error:
            raise refused("ambiguous_number") from error
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
            # A cached decision with its text is always an address, never a refusal.
            address, address_text = cast(IPAddress, cached[1]), cached[2]
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
                    raise DestinationRefused(decision.address_class)
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
            future.set_exception(DestinationRefused(refusal.address_class))
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
