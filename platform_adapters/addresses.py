"""Which destinations are on the public internet: one classification for every outbound path.

Intake (no DNS: the host as typed), the re-check guard (every resolved address, on every hop),
webhooks and RDAP look-ups all ask this module, so an address refused in one place is refused in
all. ``address_class`` names why an address is not public ("private", "loopback", "metadata",
...); ``None`` means public. ``AddressPolicy`` adds the explicit test/development allowlist
(``TRACKER_OUTBOUND_ALLOWLIST``): host names or networks that may be used although not public.
Cloud metadata addresses stay refused even when an allowlisted network contains them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Literal

#: All a refusal says outside the log: which address a name resolved to is internal knowledge
#: (it maps the deployment's network), so it never reaches a check, a filing or the API.
REFUSED_BY_POLICY = "destination refused by policy"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Why a destination is not public. Safe to log: it names a class, never the host or address.
AddressClass = Literal[
    "metadata",
    "loopback",
    "private",
    "link_local",
    "cgnat",
    "multicast",
    "unspecified",
    "reserved",
    "internal_name",
    "no_address",
]

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
#: Names of metadata services (the addresses above are refused after resolution as well).
METADATA_NAMES: frozenset[str] = frozenset({"metadata.google.internal"})

#: Not reachable on the public internet, refused even where a Python version's ``is_global``
#: table disagrees (the table changed between 3.11 and 3.13).
NON_PUBLIC_NETWORKS: tuple[IPNetwork, ...] = tuple(
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
#: Private networks (RFC 1918, unique local and the deprecated IPv6 site-local block).
PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)
#: Carrier-grade NAT (RFC 6598 shared address space).
CGNAT_NETWORK = ipaddress.ip_network("100.64.0.0/10")

#: Suffixes of names that only an internal resolver answers (or none does): ``localhost`` and
#: ``.invalid`` (RFC 6761), mDNS ``.local``, ICANN's reserved ``.internal``, RFC 8375
#: ``home.arpa`` and the reverse-lookup tree ``.arpa``, Tor's ``.onion`` (RFC 7686: never
#: through DNS), Kubernetes' in-cluster ``.svc``, and the private TLDs ICANN will not delegate
#: (``.corp``, ``.home``) or that routers hand out (``.lan``). ``.test`` and ``.example`` stay
#: allowed: they are the documentation names the test suite uses, and never resolve publicly.
LOOPBACK_NAME_SUFFIXES = ("localhost",)
INTERNAL_NAME_SUFFIXES = (
    "internal",
    "local",
    "localdomain",
    "arpa",
    "invalid",
    "onion",
    "svc",
    "lan",
    "intranet",
    "corp",
    "home",
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


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


def _class_alone(address: IPAddress) -> AddressClass | None:
    """Why one address, taken by itself, is not public; None when it is."""
    if address in METADATA_ADDRESSES:
        return "metadata"
    if _is_public_alone(address):
        return None
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address in CGNAT_NETWORK:
        return "cgnat"
    if any(address in network for network in PRIVATE_NETWORKS):
        return "private"
    # Documentation, benchmarking, future use, protocol assignments, IPv4-compatible IPv6.
    return "reserved"


def address_class(address: IPAddress) -> AddressClass | None:
    """Why an address (or an IPv4 address embedded in it) is not public; None when public."""
    embedded = list(embedded_addresses(address))
    if address in METADATA_ADDRESSES or any(inner in METADATA_ADDRESSES for inner in embedded):
        return "metadata"
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in _NAT64
    ):
        # These forms reach the embedded IPv4 address; judge that one alone.
        return next(filter(None, map(_class_alone, embedded)), None)
    return _class_alone(address) or next(filter(None, map(_class_alone, embedded)), None)


def is_public_address(address: IPAddress) -> bool:
    """Whether an address, and every IPv4 address embedded in it, is public."""
    return address_class(address) is None


def host_name_class(name: str) -> AddressClass | None:
    """Why a host name can only be internal (no DNS asked); None for an ordinary name."""
    name = name.lower().rstrip(".")
    if name in METADATA_NAMES:
        return "metadata"
    labels = name.split(".")
    if len(labels) < 2 and name not in LOOPBACK_NAME_SUFFIXES:
        return "internal_name"  # a single label is completed by the local resolver's search list
    for suffix in LOOPBACK_NAME_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return "loopback"
    for suffix in INTERNAL_NAME_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return "internal_name"
    return None


def parse_address(host: str) -> IPAddress | None:
    """The address a host names literally (IPv6 with or without brackets), None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class AddressPolicy:
    """Which destinations may be used: public ones plus an explicit allowlist."""

    def __init__(self, allowlist: Iterable[str] = ()) -> None:
        self.hosts: frozenset[str]
        self.networks: tuple[IPNetwork, ...]
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
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

    def address_refusal(self, address: IPAddress) -> AddressClass | None:
        """Why ``address`` may not be used (metadata always; others unless allowlisted)."""
        found = address_class(address)
        if found is None or found == "metadata":
            return found
        return None if self.is_allowlisted(address) else found

    def refusal(self, host: str, addresses: list[IPAddress]) -> AddressClass | None:
        """Why ``host``, resolved to ``addresses``, may not be used; None when every one may."""
        if not addresses:
            return "no_address"
        for address in addresses:
            if address_class(address) == "metadata":
                return "metadata"
        if host.lower().rstrip(".") in self.hosts:
            return None
        for address in addresses:
            found = self.address_refusal(address)
            if found is not None:
                return found
        return None

    def typed_host_refusal(self, host: str) -> AddressClass | None:
        """Why a host as typed can never be fetched, judged without DNS; None when it may be."""
        address = parse_address(host)
        if address is not None:
            return self.refusal(host, [address])
        found = host_name_class(host)
        if found is None or found == "metadata":
            return found
        return None if host.lower().rstrip(".") in self.hosts else found
