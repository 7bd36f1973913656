"""RDAP client: finds the abuse contact of a domain's registrar or of an IP address's network.

RDAP (RFC 9083) answers JSON with ``entities``, each with ``roles`` and a jCard ``vcardArray``.
For a domain, the ICANN RDAP profile puts the abuse contact as an entity with role ``abuse``
nested under the entity with role ``registrar``; for an IP network, the RIRs attach an ``abuse``
entity to the network or to the organisation holding it. Which server to ask comes from IANA's
bootstrap files (RFC 9224), shipped in ``data/rdap/`` and refreshed by ``refresh_bootstrap``.

Requests are sync httpx calls with explicit timeouts and no transport retries: the filing task
retries, on ``TransientError`` (timeouts, 429, 5xx).

RDAP is never asked about a destination that is not on the public internet (a private, loopback
or metadata address, an internal name such as ``*.internal``): no registry holds an abuse contact
for one, and the question itself would tell an outside server about the deployment's network.
Such a look-up is a ``PermanentError`` before any request. Only an explicit ``allowlist`` (the
tests' documentation networks) admits a non-public address.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from platform_adapters.addresses import AddressPolicy, host_name_class
from platform_adapters.base import PermanentError, TransientError
from platform_adapters.http_transport import retry_after_seconds, send_request

BOOTSTRAP_DIRECTORY = Path(__file__).parent / "data" / "rdap"
IANA_BOOTSTRAP_URL = "https://data.iana.org/rdap/"
BOOTSTRAP_FILES = ("dns.json", "ipv4.json", "ipv6.json")
DEFAULT_TIMEOUT_SECONDS = 10.0

#: Second-level public suffixes under which a registered domain has three labels.
#: A small table on purpose (the full Public Suffix List is out of scope): the suffixes most
#: often seen in this work. Anything else is treated as ``<name>.<tld>``.
SECOND_LEVEL_SUFFIXES = frozenset(
    {
        # United Kingdom
        "co.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "ac.uk", "gov.uk",
        # Australia, New Zealand
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz",
        # India
        "co.in", "net.in", "org.in", "firm.in", "gen.in", "ind.in", "ac.in", "edu.in", "gov.in",
        # Others common in practice
        "co.jp", "ne.jp", "or.jp", "com.br", "net.br", "co.za", "com.mx", "com.tr", "com.cn",
        "com.sg", "com.my", "co.id", "com.pk", "com.bd", "com.ng", "co.ke", "com.ar",
    }
)  # fmt: skip

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class AbuseContact:
    """Where abuse reports about a domain or address go, and where RDAP said so."""

    email: str
    name: str | None
    source_url: str
    role_path: tuple[str, ...]


class Bootstrap:
    """IANA's RDAP bootstrap data: which RDAP server serves which TLD or address block."""

    def __init__(
        self,
        dns: Mapping[str, Any],
        ipv4: Mapping[str, Any],
        ipv6: Mapping[str, Any],
    ) -> None:
        self._domains: dict[str, str] = {}
        for entries, urls in _services(dns):
            for entry in entries:
                self._domains[entry.lower().rstrip(".")] = _preferred_url(urls)
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for document in (ipv4, ipv6):
            for entries, urls in _services(document):
                for entry in entries:
                    self._networks.append((ipaddress.ip_network(entry), _preferred_url(urls)))

    @classmethod
    def load(cls, directory: Path = BOOTSTRAP_DIRECTORY) -> Bootstrap:
        """The bootstrap from ``dns.json``, ``ipv4.json`` and ``ipv6.json`` in ``directory``."""
        documents = [
            json.loads((directory / name).read_text(encoding="utf-8")) for name in BOOTSTRAP_FILES
        ]
        return cls(*documents)

    def base_url_for_domain(self, domain: str) -> str | None:
        """The RDAP base URL for a domain: the longest matching label suffix in ``dns.json``."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            base_url = self._domains.get(".".join(labels[start:]))
            if base_url is not None:
                return base_url
        return None

    def base_url_for_ip(self, address: str) -> str | None:
        """The RDAP base URL for an address: the longest matching prefix."""
        ip = ipaddress.ip_address(address)
        matches = [
            (network.prefixlen, base_url)
            for network, base_url in self._networks
            if network.version == ip.version and ip in network
        ]
        return max(matches)[1] if matches else None


def registered_domain(host: str) -> str:
    """The registered domain of a host name: the last two labels, three under a known suffix."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


class RdapClient:
    """Looks up abuse contacts over RDAP; ``base_url_override`` sends every query to one server."""

    def __init__(
        self,
        bootstrap: Bootstrap,
        base_url_override: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        allowlist: Iterable[str] = (),
    ) -> None:
        self.bootstrap = bootstrap
        self.base_url_override = base_url_override
        self.timeout = timeout
        self.policy = AddressPolicy(allowlist)

    def may_ask_about(self, address: str) -> bool:
        """Whether RDAP may be asked about ``address``: public, or in an allowlisted network."""
        return self.policy.address_refusal(ipaddress.ip_address(address)) is None

    def abuse_contact_for_domain(self, domain: str) -> AbuseContact | None:
        """The abuse contact of the registrar of ``domain``'s registered domain, if RDAP has one."""
        try:
            name = registered_domain(domain.encode("idna").decode("ascii"))
        except UnicodeError as error:
            raise PermanentError(f"not a valid domain name: {domain!r}") from error
        if "." not in name or not all(_LABEL.match(label) for label in name.split(".")):
            raise PermanentError(f"not a valid domain name: {domain!r}")
        if host_name_class(domain) is not None:
            raise PermanentError(
                f"RDAP is not asked about {domain[:100]!r}: it is an internal name, "
                "not on the public internet"
            )
        base_url = self.base_url_override or self.bootstrap.base_url_for_domain(name)
        if base_url is None:
            return None
        url = _join(base_url, f"domain/{name}")
        document = self._get(url)
        if document is None:
            return None
        # The registrar's abuse contact first (ICANN RDAP profile); any abuse entity after.
        for role_path, entity in _entities(document):
            is_under_registrar = len(role_path) > 1 and "registrar" in role_path[0].split("+")
            if is_under_registrar and "abuse" in (entity.get("roles") or []):
                contact = _contact(entity, url, role_path)
                if contact is not None:
                    return contact
        return _first_abuse_contact(document, url)

    def abuse_contact_for_ip(self, address: str) -> AbuseContact | None:
        """The abuse contact of the network holding ``address``, if RDAP has one."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError as error:
            raise PermanentError(f"not an IP address: {address!r}") from error
        refused = self.policy.address_refusal(ip)
        if refused is not None:
            raise PermanentError(
                f"RDAP is not asked about {ip}: a {refused.replace('_', '-')} address is not on "
                "the public internet and has no abuse contact"
            )
        base_url = self.base_url_override or self.bootstrap.base_url_for_ip(str(ip))
        if base_url is None:
            return None
        url = _join(base_url, f"ip/{quote(str(ip), safe='')}")
        document = self._get(url)
        if document is None:
            return None
        return _first_abuse_contact(document, url)

    def _get(self, url: str) -> Mapping[str, Any] | None:
        """One RDAP query; None when the server has no such object (404)."""
        response = send_request(
            "GET",
            url,
            platform="RDAP",
            timeout_seconds=self.timeout,
            headers={"Accept": "application/rdap+json, application/json"},
        )
        status = response.status_code
        if status == 404:
            return None
        if status == 429 or status >= 500:
            raise TransientError(
                f"RDAP server answered {status}",
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        if status != 200:
            raise PermanentError(f"RDAP server refused the query ({status})", http_status=status)
        try:
            document = response.json()
        except ValueError as error:
            raise TransientError("RDAP server sent a malformed answer", http_status=200) from error
        if not isinstance(document, dict):
            raise TransientError("RDAP server sent a malformed answer", http_status=200)
        return document


def refresh_bootstrap(
    target_directory: Path,
    base_url: str = IANA_BOOTSTRAP_URL,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[Path]:
    """Download IANA's bootstrap files into ``target_directory``; all three or none change."""
    documents: dict[str, bytes] = {}
    for name in BOOTSTRAP_FILES:
        response = send_request(
            "GET", _join(base_url, name), platform="IANA bootstrap", timeout_seconds=timeout
        )
        if response.status_code != 200:
            raise TransientError(
                f"IANA bootstrap {name} answered {response.status_code}",
                http_status=response.status_code,
            )
        try:
            parsed = response.json()
            list(_services(parsed))
        except (ValueError, TypeError) as error:
            raise PermanentError(f"IANA bootstrap {name} is not a bootstrap file") from error
        documents[name] = response.content
    target_directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in documents.items():
        # Write aside, then rename: a reader never sees half a file.
        partial = target_directory / f".{name}.partial"
        partial.write_bytes(content)
        partial.replace(target_directory / name)
        written.append(target_directory / name)
    return written


def _services(document: Mapping[str, Any]) -> Iterator[tuple[Sequence[str], Sequence[str]]]:
    """The (entries, urls) pairs of a bootstrap file; TypeError if it has another shape."""
    services = document.get("services") if isinstance(document, Mapping) else None
    if not isinstance(services, list):
        raise TypeError("bootstrap file has no services list")
    for service in services:
        if not (isinstance(service, list) and len(service) == 2):
            raise TypeError("bootstrap service is not an [entries, urls] pair")
        entries, urls = service
        if not (isinstance(entries, list) and isinstance(urls, list) and urls):
            raise TypeError("bootstrap service is not an [entries, urls] pair")
        yield entries, urls


def _preferred_url(urls: Sequence[str]) -> str:
    """HTTPS when a service offers it (RFC 9224 lists both for some registries)."""
    return next((url for url in urls if url.startswith("https://")), urls[0])


def _join(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _entities(
    document: Mapping[str, Any], parent_roles: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """Every entity, breadth first, with the path of roles leading to it."""
    level = [(parent_roles, document)]
    while level:
        next_level = []
        for path, holder in level:
            for entity in holder.get("entities") or []:
                if not isinstance(entity, Mapping):
                    continue
                roles = [str(role) for role in entity.get("roles") or []]
                entity_path = (*path, "+".join(roles) if len(roles) > 1 else "".join(roles))
                yield entity_path, entity
                next_level.append((entity_path, entity))
        level = next_level


def _first_abuse_contact(document: Mapping[str, Any], url: str) -> AbuseContact | None:
    """The shallowest entity with role ``abuse`` that has an e-mail address."""
    for role_path, entity in _entities(document):
        if "abuse" in (entity.get("roles") or []):
            contact = _contact(entity, url, role_path)
            if contact is not None:
                return contact
    return None


def _contact(
    entity: Mapping[str, Any], url: str, role_path: tuple[str, ...]
) -> AbuseContact | None:
    """An AbuseContact from an entity's jCard, or None when it lists no e-mail address."""
    properties = _jcard_properties(entity.get("vcardArray"))
    email = next((value for name, value in properties if name == "email" and "@" in value), None)
    if email is None:
        return None
    name = next((value for key, value in properties if key in ("fn", "org") and value), None)
    return AbuseContact(email=email.strip(), name=name, source_url=url, role_path=role_path)


def _jcard_properties(vcard_array: Any) -> list[tuple[str, str]]:
    """(name, text value) pairs of a jCard (RFC 7095): ``["vcard", [[name, params, type, v]]]``."""
    if not (isinstance(vcard_array, list) and len(vcard_array) == 2):
        return []
    properties = []
    for item in vcard_array[1] if isinstance(vcard_array[1], list) else []:
        if isinstance(item, list) and len(item) >= 4 and isinstance(item[0], str):
            value = item[3]
            if isinstance(value, list):  # e.g. a structured "org" value
                value = " ".join(str(part) for part in value if part)
            properties.append((item[0].lower(), str(value)))
    return properties
