"""Fallback e-mail channel: finds a host's abuse contact by RDAP, then e-mails the notice there.

Used for any host without a channel of its own and for the host and registrar rungs. The URL's
host is looked up by domain (the registrar's abuse contact) and/or by IP address (the abuse
contact of the network hosting it), as ``channel_params["lookup"]`` says:

- ``"domain"``: the registrar only (default for the ``registrar`` rung);
- ``"ip"``: the hosting network only (default for the ``host`` rung);
- ``"both"``: the hosting network first, the registrar if it has none (default otherwise),
  because a host can take content down while a registrar can only act on the whole domain.

No contact found is permanent, so the tracker escalates to the next rung; RDAP 429, 5xx and
timeouts are transient. So is a host RDAP is never asked about: an internal name, or an address
that is not public (a resolved name's non-public addresses are skipped, never sent to RDAP).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from platform_adapters.addresses import host_name_class, parse_address
from platform_adapters.base import (
    AdapterConfig,
    FilingReceipt,
    FilingRequest,
    PermanentError,
)
from platform_adapters.email import EmailAdapter, EmailConfig
from platform_adapters.rdap import AbuseContact, Bootstrap, RdapClient

#: Host name → IP addresses. Injected in tests so no real name is ever resolved.
Resolver = Callable[[str], list[str]]
LOOKUP_MODES = ("domain", "ip", "both")
DEFAULT_LOOKUP_BY_RUNG = {"registrar": "domain", "host": "ip"}


class RdapEmailConfig(EmailConfig):
    """SMTP settings plus where to ask RDAP (``rdap_base_url`` overrides the IANA bootstrap)."""

    rdap_base_url: str | None = None
    rdap_timeout_seconds: float = Field(default=10, gt=0)


def system_resolver(host: str) -> list[str]:
    """The host's addresses from the system resolver, in its order, without duplicates."""
    try:
        answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    addresses: list[str] = []
    for *_, socket_address in answers:
        address = str(socket_address[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class RdapEmailAdapter(EmailAdapter):
    """E-mails the notice to the abuse contact RDAP names for the URL's host."""

    slug: ClassVar[str] = "rdap_email"
    config_model: ClassVar[type[AdapterConfig]] = RdapEmailConfig

    config: RdapEmailConfig

    def __init__(
        self,
        config: AdapterConfig,
        *,
        resolver: Resolver | None = None,
        bootstrap: Bootstrap | None = None,
        rdap_allowlist: Iterable[str] = (),
    ) -> None:
        super().__init__(config)
        self.resolver = resolver or system_resolver
        self._bootstrap = bootstrap
        # Networks RDAP may be asked about although not public: only tests inject any.
        self.rdap_allowlist = tuple(rdap_allowlist)

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """The e-mail adapter's settings plus the stored ``rdap_base_url``, if any."""
        email_config = EmailAdapter.config_from(
            settings, {key: value for key, value in stored.items() if not key.startswith("rdap_")}
        )
        values = email_config.model_dump()
        values.update({key: value for key, value in stored.items() if key.startswith("rdap_")})
        return RdapEmailConfig.model_validate(values)

    def rdap_client(self) -> RdapClient:
        """A client for this filing; the bootstrap is read from disk when none was injected."""
        bootstrap = self._bootstrap or Bootstrap.load()
        return RdapClient(
            bootstrap,
            base_url_override=self.config.rdap_base_url,
            timeout=self.config.rdap_timeout_seconds,
            allowlist=self.rdap_allowlist,
        )

    def find_contact(self, request: FilingRequest) -> AbuseContact:
        """The abuse contact for the request's host; PermanentError when RDAP has none."""
        host = urlsplit(request.url).hostname
        if not host:
            raise PermanentError("the URL has no host to look up")
        lookup = request.channel_params.get("lookup") or DEFAULT_LOOKUP_BY_RUNG.get(
            request.rung_target, "both"
        )
        if lookup not in LOOKUP_MODES:
            raise PermanentError(f"unknown RDAP lookup {lookup!r} (use domain, ip or both)")
        literal = parse_address(host)
        if literal is None and host_name_class(host) is not None:
            # Not even resolved: only an internal resolver answers for such a name.
            raise PermanentError(
                f"RDAP is not asked about {host[:100]}: it is an internal name, "
                "not on the public internet"
            )
        client = self.rdap_client()
        skipped = False
        if lookup in ("ip", "both"):
            # A literal is asked about as typed (a non-public one is refused with its reason);
            # of a name's addresses only the public ones are, without saying which were not.
            addresses = [str(literal)] if literal is not None else self.resolver(host)
            for address in addresses:
                if literal is None and not _may_ask(client, address):
                    skipped = True
                    continue
                contact = client.abuse_contact_for_ip(address)
                if contact is not None:
                    return contact
        if lookup in ("domain", "both") and literal is None:
            contact = client.abuse_contact_for_domain(host)
            if contact is not None:
                return contact
        unasked = " (RDAP was not asked about its non-public addresses)" if skipped else ""
        raise PermanentError(f"no abuse contact found by RDAP for {host}{unasked}")

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Find the abuse contact, then send the notice there as the e-mail adapter does."""
        contact = self.find_contact(request)
        addressed = dataclasses.replace(
            request, channel_params={**request.channel_params, "address": contact.email}
        )
        return super().file(addressed)


def _may_ask(client: RdapClient, address: str) -> bool:
    """Whether a resolved address may be sent to RDAP (public, or allowlisted for tests)."""
    try:
        return client.may_ask_about(address)
    except ValueError:
        return False
