"""Harness for the WhatsApp grievance e-mail adapter, against the SMTP sink."""

from __future__ import annotations

import pytest
from smtp_sink import SmtpSink

from harnesses import FROM_ADDRESS, Harness, harness_for, make_request
from harnesses.rdap_email import message_ids_for
from platform_adapters.email import EmailConfig
from platform_adapters.whatsapp import DEFAULT_ADDRESS, WhatsAppGrievanceAdapter


def whatsapp_adapter(smtp_port: int) -> WhatsAppGrievanceAdapter:
    config = EmailConfig(
        smtp_host="127.0.0.1", smtp_port=smtp_port, timeout_seconds=5, from_address=FROM_ADDRESS
    )
    return WhatsAppGrievanceAdapter(config)


@harness_for("whatsapp_grievance")
def whatsapp_harness(request: pytest.FixtureRequest) -> Harness:
    sink: SmtpSink = request.getfixturevalue("smtp_sink")
    return Harness(
        adapter=whatsapp_adapter(sink.port),
        request_for=lambda key: make_request(
            key, "https://chat.whatsapp.com/FakeInviteCode", rung_target="grievance_officer"
        ),
        filings_held=lambda filing: message_ids_for(sink, DEFAULT_ADDRESS, filing),
    )
