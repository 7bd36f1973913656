"""Harness and fixtures for the RDAP e-mail adapter: a local RDAP server and the SMTP sink."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from rdap_server import HOSTING_ABUSE_EMAIL, RdapServer
from smtp_sink import SmtpSink

from harnesses import FROM_ADDRESS, Harness, harness_for, make_request
from platform_adapters.base import FilingRequest
from platform_adapters.rdap_email import RdapEmailAdapter, RdapEmailConfig

#: The documentation networks the fake answers use. They are not public, so RDAP is asked
#: about them only because the tests allowlist them explicitly (as production never does).
TEST_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")

#: Fake DNS: every host lives at a TEST-NET address the local RDAP server knows.
FAKE_ADDRESSES = {
    "files.leaky.example": ["192.0.2.10"],
    "cdn.elsewhere.example": ["198.51.100.7"],
    "dark.unknown.example": ["203.0.113.5"],
}


def fake_resolver(table: dict[str, list[str]] | None = None) -> Callable[[str], list[str]]:
    """A resolver that answers from a table and never asks real DNS."""
    addresses = FAKE_ADDRESSES if table is None else table

    def resolve(host: str) -> list[str]:
        return list(addresses.get(host, ["192.0.2.10"] if host.endswith(".test") else []))

    return resolve


@pytest.fixture(scope="session")
def rdap_server() -> Iterator[RdapServer]:
    with RdapServer() as server:
        yield server


def rdap_email_adapter(
    smtp_port: int, rdap_base_url: str, resolver: Callable[[str], list[str]] | None = None
) -> RdapEmailAdapter:
    config = RdapEmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        timeout_seconds=5,
        from_address=FROM_ADDRESS,
        rdap_base_url=rdap_base_url,
        rdap_timeout_seconds=1,
    )
    return RdapEmailAdapter(
        config, resolver=resolver or fake_resolver(), rdap_allowlist=TEST_NETWORKS
    )


def message_ids_for(sink: SmtpSink, address: str, filing: FilingRequest) -> int:
    """How many distinct messages of this filing reached ``address``."""
    wanted = f"<{filing.idempotency_key}@takedown-tracker>"
    return len(
        {m["Message-ID"] for m in sink.handler.sent_to(address) if m["Message-ID"] == wanted}
    )


@harness_for("rdap_email")
def rdap_email_harness(request: pytest.FixtureRequest) -> Harness:
    sink: SmtpSink = request.getfixturevalue("smtp_sink")
    server: RdapServer = request.getfixturevalue("rdap_server")
    return Harness(
        adapter=rdap_email_adapter(sink.port, server.base_url),
        request_for=lambda key: make_request(
            key, f"https://files.leaky.example/v/{key}", rung_target="host"
        ),
        filings_held=lambda filing: message_ids_for(sink, HOSTING_ABUSE_EMAIL, filing),
    )
