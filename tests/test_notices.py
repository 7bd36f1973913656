"""Notice templates: choice by legal basis and rung, required content, and the person's identity."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from harnesses import (
    DEADLINE_TEXT,
    FAKE_VICTIM_NAME,
    LEGAL_BASIS,
    ORGANISATION_EMAIL,
    ORGANISATION_NAME,
    make_request,
    new_key,
)
from harnesses.email import email_adapter
from smtp_sink import SmtpSink

from platform_adapters.base import FilingRequest, PermanentError
from platform_adapters.notices import (
    E_SIGNATURE_NOTE,
    NOTICE_NAMES,
    Notice,
    UnknownNoticeTemplate,
    choose_template,
    render_notice,
)

TAKE_IT_DOWN_BASIS = "TAKE IT DOWN Act, 47 U.S.C. 223a"
URL = "https://files.example/v/1"


def flat(text: str) -> str:
    return " ".join(text.split())


def request(key: str = "case-7.filing-3", **params: object) -> FilingRequest:
    return make_request(key, URL, **params)


@pytest.mark.parametrize(
    ("legal_basis", "rung_target", "expected"),
    [
        (LEGAL_BASIS, "platform", "in_rule_3_2_b"),
        (LEGAL_BASIS, "host", "in_rule_3_2_b"),
        (LEGAL_BASIS, "grievance_officer", "in_grievance_officer"),
        (TAKE_IT_DOWN_BASIS, "platform", "us_take_it_down"),
        (TAKE_IT_DOWN_BASIS, "grievance_officer", "us_take_it_down"),
        ("Digital Services Act, Article 16", "platform", "generic"),
    ],
)
def test_template_follows_legal_basis_and_rung(
    legal_basis: str, rung_target: str, expected: str
) -> None:
    filing = replace(make_request("k", URL, rung_target=rung_target), legal_basis=legal_basis)

    assert choose_template(filing) == expected


def test_channel_choice_wins_and_unknown_names_fail() -> None:
    assert choose_template(request(notice="us_take_it_down")) == "us_take_it_down"
    with pytest.raises(UnknownNoticeTemplate, match="no notice template named 'fax'"):
        choose_template(request(notice="fax"))
    with pytest.raises(UnknownNoticeTemplate):
        render_notice(request(), template="../generic")


@pytest.mark.parametrize("name", NOTICE_NAMES)
def test_every_notice_states_authority_reference_and_content(name: str) -> None:
    notice = render_notice(request(urls=["https://files.example/v/2"]), template=name)

    assert isinstance(notice, Notice)
    assert "case-7.filing-3" in notice.subject
    assert "$" not in notice.subject + notice.body  # every placeholder was filled
    body = flat(notice.body)
    assert (
        f"{ORGANISATION_NAME} acts on behalf of the affected person, with their authority" in body
    )
    assert "Reference: case-7.filing-3" in body
    for expected in (
        URL,
        "https://files.example/v/2",
        LEGAL_BASIS,
        DEADLINE_TEXT,
        ORGANISATION_EMAIL,
    ):
        assert expected in body
    assert "non-consensual intimate imagery" in body.lower()
    assert "\n\n\n" not in notice.body
    assert FAKE_VICTIM_NAME not in notice.body


def test_take_it_down_notice_has_every_element_of_a_valid_request() -> None:
    body = flat(
        render_notice(request(signatory="Case Worker Fake"), template="us_take_it_down").body
    )

    # 47 U.S.C. 223a(a)(1)(B): signature, identification and location, good faith, contact.
    assert "Signature of the authorised representative (electronic signature)" in body
    assert f"/s/ Case Worker Fake, authorised representative, for {ORGANISATION_NAME}" in body
    assert f"Identification and location of the intimate visual depiction - {URL}" in body
    assert (
        "The identifiable individual has a good-faith belief that the intimate visual depiction "
        "identified above is not consensual"
    ) in body
    assert (
        "Contact information Please contact the authorised representative named below, at "
        f"{ORGANISATION_EMAIL}"
    ) in body
    assert "identical copies" in body


def test_indian_notices_cite_the_rules_and_accept_a_representative() -> None:
    platform = flat(render_notice(request()).body)
    officer = flat(render_notice(request(), template="in_grievance_officer").body)

    assert "complaint under Rule 3(2)(b)" in platform
    assert (
        "complaint to the Grievance Officer under Rule 3(2)(a)(i) read with Rule 3(2)(b)" in officer
    )
    for body in (platform, officer):
        assert "by any person on their behalf" in body
        assert "section 77 of the Bharatiya Nyaya Sanhita, 2023" in body
        assert f"/s/ {ORGANISATION_NAME}, authorised representative" in body


def test_e_signature_note_appears_only_when_the_channel_asks() -> None:
    signed = render_notice(request(requires_e_signature=True), template="in_grievance_officer")
    plain = render_notice(request(), template="in_grievance_officer")

    assert flat(E_SIGNATURE_NOTE) in flat(signed.body)
    assert "signed electronically" not in plain.body


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"identity": FAKE_VICTIM_NAME},  # given, but the channel does not require it
        {"requires_identity": True},  # required, but no consent recorded (no identity passed)
        {"requires_identity": True, "identity": "   "},
        {"requires_identity": False, "identity": FAKE_VICTIM_NAME},
    ],
)
def test_the_person_is_not_named_without_requirement_and_consent(params: dict[str, object]) -> None:
    for name in NOTICE_NAMES:
        notice = render_notice(request(**params), template=name)
        assert FAKE_VICTIM_NAME not in notice.subject + notice.body
        assert "this notice does not identify them" in flat(notice.body)


def test_the_person_is_named_when_required_and_consented() -> None:
    for name in NOTICE_NAMES:
        notice = render_notice(
            request(requires_identity=True, identity=FAKE_VICTIM_NAME), template=name
        )
        assert f"The affected person, {FAKE_VICTIM_NAME}, has consented to being named" in flat(
            notice.body
        )
        assert "does not identify them" not in notice.body


def test_missing_language_falls_back_to_english_and_bad_tags_fail() -> None:
    assert render_notice(request(), language="hi") == render_notice(request())
    with pytest.raises(UnknownNoticeTemplate, match="not a language tag"):
        render_notice(request(), language="../en")


def test_awkward_keys_are_quoted_as_a_digest() -> None:
    notice = render_notice(request(key="filing 7 / rung <2>"))

    match = re.search(r"Reference: ([0-9a-f]{40})$", notice.body.strip(), re.MULTILINE)
    assert match is not None and match.group(1) in notice.subject


# --- the e-mail adapter sends the rendered notice --------------------------------------------


def test_email_adapter_sends_the_take_it_down_notice(smtp_sink: SmtpSink) -> None:
    key = new_key()
    address = f"abuse-{key}@host.example"
    filing = make_request(key, URL, address=address, notice="us_take_it_down")

    email_adapter(smtp_sink.port).file(filing)

    [message] = smtp_sink.handler.sent_to(address)
    assert message["Subject"] == (
        f"TAKE IT DOWN Act removal request: non-consensual intimate visual depiction "
        f"(reference {key})"
    )
    assert "good-faith belief" in message.get_content()


def test_email_adapter_names_the_person_only_with_consent(smtp_sink: SmtpSink) -> None:
    adapter = email_adapter(smtp_sink.port)
    named, unnamed = f"named-{new_key()}@host.example", f"unnamed-{new_key()}@host.example"

    adapter.file(make_request(new_key(), URL, address=unnamed, identity=FAKE_VICTIM_NAME))
    adapter.file(
        make_request(
            new_key(), URL, address=named, identity=FAKE_VICTIM_NAME, requires_identity=True
        )
    )

    assert FAKE_VICTIM_NAME not in smtp_sink.handler.sent_to(unnamed)[0].as_string()
    assert FAKE_VICTIM_NAME in smtp_sink.handler.sent_to(named)[0].get_content()


def test_email_adapter_refuses_an_unknown_notice(smtp_sink: SmtpSink) -> None:
    filing = make_request(new_key(), URL, address="abuse@host.example", notice="fax")

    with pytest.raises(PermanentError, match="cannot build the notice"):
        email_adapter(smtp_sink.port).file(filing)
