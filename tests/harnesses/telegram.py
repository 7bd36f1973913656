"""Harness for the Telegram e-mail adapter, against the SMTP sink."""

from __future__ import annotations

import pytest
from smtp_sink import SmtpSink

from harnesses import FROM_ADDRESS, Harness, harness_for, make_request
from harnesses.rdap_email import message_ids_for
from platform_adapters.email import EmailConfig
from platform_adapters.telegram import DEFAULT_ADDRESS, TelegramAdapter


def telegram_adapter(smtp_port: int) -> TelegramAdapter:
    config = EmailConfig(
        smtp_host="127.0.0.1", smtp_port=smtp_port, timeout_seconds=5, from_address=FROM_ADDRESS
    )
    return TelegramAdapter(config)


@harness_for("telegram")
def telegram_harness(request: pytest.FixtureRequest) -> Harness:
    sink: SmtpSink = request.getfixturevalue("smtp_sink")
    return Harness(
        adapter=telegram_adapter(sink.port),
        request_for=lambda key: make_request(key, f"https://t.me/fakechannel/{len(key)}"),
        filings_held=lambda filing: message_ids_for(sink, DEFAULT_ADDRESS, filing),
    )
