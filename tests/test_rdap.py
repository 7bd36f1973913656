"""RDAP client and bootstrap, against a local RDAP server; the shipped bootstrap files offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from harnesses.rdap_email import TEST_NETWORKS
from rdap_server import HOSTING_ABUSE_EMAIL, NETWORK_ABUSE_EMAIL, REGISTRAR_ABUSE_EMAIL, RdapServer

from platform_adapters.base import PermanentError, TransientError
from platform_adapters.rdap import (
    BOOTSTRAP_DIRECTORY,
    AbuseContact,
    Bootstrap,
    RdapClient,
    refresh_bootstrap,
    registered_domain,
)

EMPTY = {"services": []}


def client_for(server: RdapServer, timeout: float = 2) -> RdapClient:
    return RdapClient(
        Bootstrap(EMPTY, EMPTY, EMPTY),
        base_url_override=server.base_url,
        timeout=timeout,
        allowlist=TEST_NETWORKS,
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("files.leaky.example", "leaky.example"),
        ("leaky.example", "leaky.example"),
        ("a.b.c.site.co.uk", "site.co.uk"),
        ("cdn.shop.co.in", "shop.co.in"),
        ("www.shop.com.au", "shop.com.au"),
        ("WWW.Upper.Example.", "upper.example"),
        ("co.uk", "co.uk"),
    ],
)
def test_registered_domain_uses_the_small_suffix_table(host: str, expected: str) -> None:
    assert registered_domain(host) == expected


# --- the shipped bootstrap ----------------------------------------------------------------------


def test_shipped_bootstrap_routes_common_tlds_and_all_five_rirs() -> None:
    bootstrap = Bootstrap.load()

    assert bootstrap.base_url_for_domain("leaky.com") == "https://rdap.verisign.com/com/v1/"
    assert bootstrap.base_url_for_domain("x.leaky.in") == "https://rdap.registry.in/"
    assert (
        bootstrap.base_url_for_domain("leaky.org")
        == "https://rdap.publicinterestregistry.org/rdap/"
    )
    for tld in (
        "com",
        "net",
        "org",
        "in",
        "io",
        "co",
        "xyz",
        "me",
        "ru",
        "cc",
        "tv",
        "info",
        "biz",
    ):
        assert bootstrap.base_url_for_domain(f"leaky.{tld}"), tld
    assert bootstrap.base_url_for_domain("leaky.to") is None  # no RDAP service known for .to
    # HTTPS is preferred where both schemes are listed.
    assert bootstrap.base_url_for_ip("8.8.8.8") == "https://rdap.arin.net/registry/"
    assert bootstrap.base_url_for_ip("193.0.6.139") == "https://rdap.db.ripe.net/"
    assert bootstrap.base_url_for_ip("1.1.1.1") == "https://rdap.apnic.net/"
    assert bootstrap.base_url_for_ip("200.1.2.3") == "https://rdap.lacnic.net/rdap/"
    assert bootstrap.base_url_for_ip("41.1.2.3") == "https://rdap.afrinic.net/rdap/"
    assert bootstrap.base_url_for_ip("2a00:1450::1") == "https://rdap.db.ripe.net/"
    assert bootstrap.base_url_for_ip("2600::1") == "https://rdap.arin.net/registry/"
    assert bootstrap.base_url_for_ip("10.0.0.1") is None


def test_shipped_bootstrap_files_have_the_iana_shape() -> None:
    for name in ("dns.json", "ipv4.json", "ipv6.json"):
        document = json.loads((BOOTSTRAP_DIRECTORY / name).read_text())
        assert set(document) == {"description", "publication", "version", "services"}
        assert document["description"].startswith("RDAP bootstrap file for")


def test_bootstrap_takes_the_longest_match() -> None:
    dns = {
        "services": [[["example"], ["https://tld.test/"]], [["co.example"], ["https://sld.test/"]]]
    }
    ipv4 = {
        "services": [
            [["192.0.0.0/8"], ["https://wide.test/"]],
            [["192.0.2.0/24"], ["https://narrow.test/"]],
        ]
    }
    bootstrap = Bootstrap(dns, ipv4, EMPTY)

    assert bootstrap.base_url_for_domain("shop.co.example") == "https://sld.test/"
    assert bootstrap.base_url_for_domain("shop.example") == "https://tld.test/"
    assert bootstrap.base_url_for_ip("192.0.2.1") == "https://narrow.test/"
    assert bootstrap.base_url_for_ip("192.1.0.1") == "https://wide.test/"


# --- lookups against the local server -----------------------------------------------------------


def test_domain_contact_is_the_registrars_abuse_entity(rdap_server: RdapServer) -> None:
    contact = client_for(rdap_server).abuse_contact_for_domain("files.leaky.example")

    assert contact == AbuseContact(
        email=REGISTRAR_ABUSE_EMAIL,
        name="Abuse Desk",
        source_url=f"{rdap_server.base_url}/domain/leaky.example",
        role_path=("registrar", "abuse"),
    )


def test_domain_without_an_abuse_entity_has_no_contact(rdap_server: RdapServer) -> None:
    # The technical contact's address must never be mistaken for an abuse desk.
    assert client_for(rdap_server).abuse_contact_for_domain("noabuse.example") is None


def test_unknown_domain_is_none_and_queries_the_registered_domain(rdap_server: RdapServer) -> None:
    assert client_for(rdap_server).abuse_contact_for_domain("a.b.example.co.uk") is None
    assert "/domain/example.co.uk" in rdap_server.paths


def test_ip_contact_nested_under_the_holding_organisation(rdap_server: RdapServer) -> None:
    contact = client_for(rdap_server).abuse_contact_for_ip("192.0.2.10")

    assert contact is not None
    assert (contact.email, contact.name, contact.role_path) == (
        HOSTING_ABUSE_EMAIL,
        "Example Hosting Abuse",
        ("registrant", "abuse"),
    )
    assert contact.source_url == f"{rdap_server.base_url}/ip/192.0.2.10"


def test_ip_contact_at_the_top_level(rdap_server: RdapServer) -> None:
    contact = client_for(rdap_server).abuse_contact_for_ip("198.51.100.7")

    assert contact is not None
    assert (contact.email, contact.role_path) == (NETWORK_ABUSE_EMAIL, ("abuse",))
    assert client_for(rdap_server).abuse_contact_for_ip("203.0.113.5") is None


def test_lookups_follow_the_bootstrap_without_an_override(rdap_server: RdapServer) -> None:
    base = f"{rdap_server.base_url}/"
    bootstrap = Bootstrap(
        {"services": [[["example"], [base]]]}, {"services": [[["192.0.2.0/24"], [base]]]}, EMPTY
    )
    client = RdapClient(bootstrap, timeout=2, allowlist=TEST_NETWORKS)

    assert client.abuse_contact_for_domain("leaky.example").email == REGISTRAR_ABUSE_EMAIL  # type: ignore[union-attr]
    assert client.abuse_contact_for_ip("192.0.2.10").email == HOSTING_ABUSE_EMAIL  # type: ignore[union-attr]
    # No RDAP server for the TLD or block: None, without any request.
    before = len(rdap_server.paths)
    assert client.abuse_contact_for_domain("leaky.test") is None
    assert client.abuse_contact_for_ip("2001:db8::1") is None
    assert len(rdap_server.paths) == before


def test_rate_limit_is_transient_with_retry_after(rdap_server: RdapServer) -> None:
    with pytest.raises(TransientError) as raised:
        client_for(rdap_server).abuse_contact_for_domain("ratelimited.example")

    assert (raised.value.http_status, raised.value.retry_after) == (429, 7)


def test_server_error_is_transient(rdap_server: RdapServer) -> None:
    with pytest.raises(TransientError, match="RDAP server answered 503"):
        client_for(rdap_server).abuse_contact_for_domain("broken.example")


def test_timeout_and_refused_connection_are_transient(rdap_server: RdapServer) -> None:
    with pytest.raises(TransientError, match="timed out"):
        client_for(rdap_server, timeout=0.3).abuse_contact_for_ip("203.0.113.99")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TransientError, match="unreachable"):
        RdapClient(
            Bootstrap(EMPTY, EMPTY, EMPTY), closed, 1, allowlist=TEST_NETWORKS
        ).abuse_contact_for_ip("192.0.2.1")


@pytest.mark.parametrize("bad", ["bad_domain!", "nodot", "-leading.example"])
def test_invalid_names_are_permanent(rdap_server: RdapServer, bad: str) -> None:
    with pytest.raises(PermanentError, match="not a valid domain name"):
        client_for(rdap_server).abuse_contact_for_domain(bad)
    with pytest.raises(PermanentError, match="not an IP address"):
        client_for(rdap_server).abuse_contact_for_ip(bad)


# --- refreshing the bootstrap ---------------------------------------------------------------------


def test_refresh_bootstrap_writes_all_three_files(rdap_server: RdapServer, tmp_path: Path) -> None:
    written = refresh_bootstrap(tmp_path, base_url=f"{rdap_server.base_url}/bootstrap/", timeout=2)

    assert sorted(path.name for path in written) == ["dns.json", "ipv4.json", "ipv6.json"]
    bootstrap = Bootstrap.load(tmp_path)
    assert bootstrap.base_url_for_domain("leaky.example") == "http://127.0.0.1:1/"
    assert bootstrap.base_url_for_ip("192.0.2.1") == "http://127.0.0.1:1/"
    assert bootstrap.base_url_for_ip("2001:db8::1") == "http://127.0.0.1:1/"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "dns.json",
        "ipv4.json",
        "ipv6.json",
    ]


def test_refresh_bootstrap_refuses_a_wrong_file_and_changes_nothing(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    (tmp_path / "dns.json").write_text("{}")

    with pytest.raises(PermanentError, match="dns.json is not a bootstrap file"):
        refresh_bootstrap(tmp_path, base_url=f"{rdap_server.base_url}/not-bootstrap/", timeout=2)

    assert (tmp_path / "dns.json").read_text() == "{}"
    with pytest.raises(TransientError, match="answered 404"):
        refresh_bootstrap(tmp_path, base_url=f"{rdap_server.base_url}/nothing/", timeout=2)
