"""E-mail channels: the RDAP fallback, Telegram and WhatsApp, end to end through the SMTP sink."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from harnesses import FAKE_VICTIM_NAME, FROM_ADDRESS, LEGAL_BASIS, make_request, new_key
from harnesses.rdap_email import fake_resolver, rdap_email_adapter
from harnesses.telegram import telegram_adapter
from harnesses.whatsapp_grievance import whatsapp_adapter
from pydantic import SecretStr
from rdap_server import (
    HOSTING_ABUSE_EMAIL,
    NETWORK_ABUSE_EMAIL,
    REGISTRAR_ABUSE_EMAIL,
    RdapServer,
)
from smtp_sink import SmtpSink

from platform_adapters.base import FetchedPage, PermanentError, TransientError, Verdict
from platform_adapters.rdap_email import RdapEmailAdapter, RdapEmailConfig


def sent_with_key(sink: SmtpSink, address: str, key: str) -> list:  # type: ignore[type-arg]
    return [
        message
        for message in sink.handler.sent_to(address)
        if message["Message-ID"] == f"<{key}@takedown-tracker>"
    ]


# --- RDAP fallback ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "rung_target", "params", "expected_address"),
    [
        # Host rung: the hosting network (ARIN-style nesting).
        ("https://files.leaky.example/v/1", "host", {}, HOSTING_ABUSE_EMAIL),
        # Registrar rung: the registrar's nested abuse entity.
        ("https://files.leaky.example/v/1", "registrar", {}, REGISTRAR_ABUSE_EMAIL),
        # The channel's lookup wins over the rung's default.
        ("https://files.leaky.example/v/1", "host", {"lookup": "domain"}, REGISTRAR_ABUSE_EMAIL),
        # Any other rung: the network first.
        ("https://cdn.elsewhere.example/x", "platform", {}, NETWORK_ABUSE_EMAIL),
        # An IP literal has no registrar: its network.
        ("http://198.51.100.7/x", "platform", {"lookup": "both"}, NETWORK_ABUSE_EMAIL),
        # Nothing resolves: "both" falls back to the registrar.
        ("https://gone.leaky.example/x", "platform", {}, REGISTRAR_ABUSE_EMAIL),
    ],
)
def test_rdap_email_sends_the_notice_to_the_abuse_contact(
    smtp_sink: SmtpSink,
    rdap_server: RdapServer,
    url: str,
    rung_target: str,
    params: dict[str, object],
    expected_address: str,
) -> None:
    key = new_key()
    adapter = rdap_email_adapter(smtp_sink.port, rdap_server.base_url)

    receipt = adapter.file(make_request(key, url, rung_target=rung_target, **params))

    [message] = sent_with_key(smtp_sink, expected_address, key)
    assert receipt.external_ref == f"<{key}@takedown-tracker>"
    assert message["From"] == FROM_ADDRESS
    assert url in message.get_content()
    assert FAKE_VICTIM_NAME not in message.as_string()


def test_rdap_email_without_a_contact_is_permanent(
    smtp_sink: SmtpSink, rdap_server: RdapServer
) -> None:
    adapter = rdap_email_adapter(smtp_sink.port, rdap_server.base_url)

    with pytest.raises(
        PermanentError, match="no abuse contact found by RDAP for dark.unknown.example"
    ):
        adapter.file(make_request(new_key(), "https://dark.unknown.example/v/1"))
    with pytest.raises(PermanentError, match="no abuse contact found by RDAP for 203.0.113.5"):
        adapter.file(make_request(new_key(), "http://203.0.113.5/v/1", lookup="domain"))


def test_rdap_email_rate_limit_is_transient_and_sends_nothing(
    smtp_sink: SmtpSink, rdap_server: RdapServer
) -> None:
    key = new_key()
    adapter = rdap_email_adapter(smtp_sink.port, rdap_server.base_url, resolver=fake_resolver({}))

    with pytest.raises(TransientError) as raised:
        adapter.file(
            make_request(key, "https://www.ratelimited.example/v", rung_target="registrar")
        )

    assert raised.value.http_status == 429
    assert not [m for m in smtp_sink.handler.messages if key in str(m["Message-ID"])]


@pytest.mark.parametrize(
    ("url", "params", "message"),
    [
        ("https://leaky.example/v", {"lookup": "whois"}, "unknown RDAP lookup 'whois'"),
        ("mailto:someone", {}, "the URL has no host"),
    ],
)
def test_rdap_email_refuses_bad_requests(
    smtp_sink: SmtpSink, rdap_server: RdapServer, url: str, params: dict[str, object], message: str
) -> None:
    adapter = rdap_email_adapter(smtp_sink.port, rdap_server.base_url)

    with pytest.raises(PermanentError, match=message):
        adapter.file(make_request(new_key(), url, **params))


def test_rdap_email_config_takes_settings_and_stored_rdap_url() -> None:
    settings = SimpleNamespace(
        smtp_host="127.0.0.1",
        smtp_port=2526,
        smtp_username="relay",
        smtp_password=SecretStr("from-settings"),
        smtp_starttls=False,
        smtp_timeout_seconds=9,
        organisation_email="takedowns@helpline.example",
    )

    config = RdapEmailAdapter.config_from(
        settings, {"rdap_base_url": "http://127.0.0.1:9/", "smtp_port": 2600}
    )

    assert isinstance(config, RdapEmailConfig)
    assert (config.rdap_base_url, config.smtp_port, config.from_address) == (
        "http://127.0.0.1:9/",
        2600,
        "takedowns@helpline.example",
    )
    assert config.password is not None and config.password.get_secret_value() == "from-settings"
    assert RdapEmailAdapter.config_from(settings, {}).rdap_base_url is None  # type: ignore[attr-defined]


# --- Telegram ----------------------------------------------------------------------------------


def test_telegram_mails_its_abuse_address_unless_told_otherwise(smtp_sink: SmtpSink) -> None:
    adapter = telegram_adapter(smtp_sink.port)
    default_key, custom_key = new_key(), new_key()

    adapter.file(make_request(default_key, "https://t.me/fakechannel/12"))
    adapter.file(make_request(custom_key, "https://t.me/fakechannel/13", address="dmca@t.example"))

    [message] = sent_with_key(smtp_sink, "abuse@telegram.org", default_key)
    assert "https://t.me/fakechannel/12" in message.get_content()
    assert len(sent_with_key(smtp_sink, "dmca@t.example", custom_key)) == 1


def page(url: str, body: str, status: int = 200) -> FetchedPage:
    return FetchedPage(url=url, final_url=url, status_code=status, headers={}, body_prefix=body)


WIDGET_LIVE = (
    '<div class="tgme_widget_message text_not_supported_wrap" data-post="fake/12">hi</div>'
)
WIDGET_ERROR = '<div class="tgme_widget_message_error">Post not found</div>'


@pytest.mark.parametrize(
    ("url", "body", "status", "expected"),
    [
        (
            "https://t.me/fakechannel/12",
            "<title>Telegram</title><p>Message not found</p>",
            200,
            Verdict.REMOVED,
        ),
        ("https://t.me/fakechannel/12?embed=1", WIDGET_ERROR, 200, Verdict.REMOVED),
        (
            "https://t.me/fakechannel/12?embed=1",
            '<div class="tgme_page_widget"></div>',
            200,
            Verdict.REMOVED,
        ),
        ("https://t.me/fakechannel/12?embed=1", WIDGET_LIVE, 200, None),
        # The plain post page never carries the widget block: its absence means nothing.
        ("https://t.me/fakechannel/12", '<div class="tgme_page">preview</div>', 200, None),
        (
            "https://telegram.me/fakegroup",
            "<title>This group is private</title>",
            200,
            Verdict.PRIVATE,
        ),
        ("https://t.me/fakechannel/12", "<title>Message not found</title>", 403, None),
        ("https://t.me/fakechannel/12", "<p>Just a moment...</p>", 200, Verdict.BLOCKED),
        ("https://t.me/fakechannel/12", "<p>message not found</p>" + "x " * 3000, 200, None),
    ],
)
def test_telegram_classify(url: str, body: str, status: int, expected: Verdict | None) -> None:
    assert telegram_adapter(1).classify(page(url, body, status)) is expected


# --- WhatsApp (India grievance officer) --------------------------------------------------------


def test_whatsapp_sends_an_e_signed_grievance_to_the_officer(smtp_sink: SmtpSink) -> None:
    key = new_key()
    filing = make_request(
        key,
        "https://chat.whatsapp.com/FakeInviteCode",
        rung_target="grievance_officer",
        identity=FAKE_VICTIM_NAME,
    )

    whatsapp_adapter(smtp_sink.port).file(filing)

    [message] = sent_with_key(smtp_sink, "grievance_officer_wa@support.whatsapp.com", key)
    body = " ".join(message.get_content().split())
    assert message["Subject"].startswith("Grievance under Rule 3(2)(a)(i) read with Rule 3(2)(b)")
    assert "asks for grievances to be signed electronically" in body
    assert "/s/ Example Helpline (test), authorised representative" in body
    assert LEGAL_BASIS in body
    assert FAKE_VICTIM_NAME not in message.as_string()  # identity without requires_identity


def test_whatsapp_directory_address_wins(smtp_sink: SmtpSink) -> None:
    key = new_key()
    filing = make_request(key, "https://chat.whatsapp.com/x", address="officer@wa.example")

    whatsapp_adapter(smtp_sink.port).file(filing)

    assert len(sent_with_key(smtp_sink, "officer@wa.example", key)) == 1
