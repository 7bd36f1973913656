"""Harness and fixtures for the e-mail adapter, against a real SMTP sink on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtp_sink import CollectingHandler, LoopbackController, SmtpSink

from harnesses import FROM_ADDRESS, Harness, harness_for, make_request
from platform_adapters.base import FilingRequest
from platform_adapters.email import EmailAdapter, EmailConfig

SMTP_USER, SMTP_PASSWORD = "relay-user", "relay-password-for-tests"


def check_password(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
    is_valid = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (SMTP_USER, SMTP_PASSWORD)
    # handled=False makes aiosmtpd answer 535 itself on failure.
    return AuthResult(success=is_valid, handled=False)


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    handler = CollectingHandler()
    # AUTH is offered (plain text is fine on loopback) but not required.
    controller = LoopbackController(
        handler, hostname="127.0.0.1", authenticator=check_password, auth_require_tls=False
    )
    controller.start()
    try:
        yield SmtpSink(port=controller.port, handler=handler)
    finally:
        controller.stop()


def email_adapter(port: int, **overrides: object) -> EmailAdapter:
    settings: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "timeout_seconds": 5,
        "from_address": FROM_ADDRESS,
    }
    return EmailAdapter(EmailConfig(**(settings | overrides)))


@harness_for("email")
def email_harness(request: pytest.FixtureRequest) -> Harness:
    sink: SmtpSink = request.getfixturevalue("smtp_sink")

    def held_by_mailbox(filing: FilingRequest) -> int:
        messages = sink.handler.sent_to(filing.channel_params["address"])
        return len({message["Message-ID"] for message in messages})

    return Harness(
        adapter=email_adapter(sink.port),
        request_for=lambda key: make_request(
            key, f"https://files.example/v/{key}", address=f"abuse-{key}@host.example"
        ),
        filings_held=held_by_mailbox,
    )
