"""Notice templates: choice by legal basis and rung, required content, and the person's identity."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

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

from platform_adapters import notices
from platform_adapters.base import FilingRequest, PermanentError
from platform_adapters.notices import (
    E_SIGNATURE_NOTE,
    NOTICE_NAMES,
    PHRASE_NAMES,
    TEMPLATES_DIRECTORY,
    Notice,
    UnknownNoticeTemplate,
    choose_template,
    notice_phrases,
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
    assert render_notice(request(), language="ta") == render_notice(request())
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


# --- notices in other languages -----------------------------------------------------------------

DEVANAGARI = re.compile(r"[\u0900-\u097F]")
PLACEHOLDER = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return {"".join(match) for match in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("name", NOTICE_NAMES)
def test_hindi_templates_use_the_english_placeholders(name: str) -> None:
    english = (TEMPLATES_DIRECTORY / "en" / f"{name}.txt").read_text(encoding="utf-8")
    hindi = (TEMPLATES_DIRECTORY / "hi" / f"{name}.txt").read_text(encoding="utf-8")

    assert hindi.startswith("Subject: ")
    assert placeholders(hindi) == placeholders(english)
    assert placeholders(hindi.partition("\n")[0]) == placeholders(english.partition("\n")[0])


def test_every_language_translates_only_known_phrases_with_their_placeholders() -> None:
    english = notice_phrases("en")
    for folder in sorted(path for path in TEMPLATES_DIRECTORY.iterdir() if path.is_dir()):
        phrases = notice_phrases(folder.name)
        assert set(phrases) == set(PHRASE_NAMES)
        for phrase in PHRASE_NAMES:
            assert placeholders(phrases[phrase].template) == placeholders(
                english[phrase].template
            ), (folder.name, phrase)


@pytest.mark.parametrize("name", NOTICE_NAMES)
def test_hindi_notice_is_complete_and_in_hindi(name: str) -> None:
    notice = render_notice(
        request(urls=["https://files.example/v/2"], signatory="Case Worker Fake"),
        template=name,
        language="hi",
    )
    hindi = notice_phrases("hi")

    assert "$" not in notice.subject + notice.body
    assert "case-7.filing-3" in notice.subject
    assert DEVANAGARI.search(notice.subject)
    assert len(DEVANAGARI.findall(notice.body)) > 200  # Hindi throughout, not a heading or two
    assert "\n\n\n" not in notice.body
    body = flat(notice.body)
    for expected in (
        URL,
        "https://files.example/v/2",
        LEGAL_BASIS,
        DEADLINE_TEXT,
        ORGANISATION_NAME,
        ORGANISATION_EMAIL,
        "संदर्भ: case-7.filing-3",
        hindi["statement_of_authority"].substitute(organisation=ORGANISATION_NAME),
        hindi["withheld_identity"].substitute(),
    ):
        assert flat(expected) in body
    # No sentence the code adds is left in English.
    assert "acts on behalf of the affected person" not in body
    assert "does not identify them" not in body
    assert "authorised representative, for" not in body
    assert FAKE_VICTIM_NAME not in notice.body
    if name != "generic":
        assert f"/s/ Case Worker Fake, अधिकृत प्रतिनिधि, {ORGANISATION_NAME} की ओर से" in notice.body


def test_hindi_notices_keep_the_legal_citations() -> None:
    platform = flat(render_notice(request(), language="hi").body)
    officer = flat(render_notice(request(), template="in_grievance_officer", language="hi").body)
    take_it_down = render_notice(request(), template="us_take_it_down", language="hi")

    for body in (platform, officer):
        assert "नियम 3(2)(b)" in body
        assert "Information Technology (Intermediary Guidelines and Digital Media Ethics Code)" in (
            body
        )
        assert "66E, 67 और 67A" in body
        assert "भारतीय न्याय संहिता, 2023" in body
    assert "3(2)(a)(i)" in officer
    assert "IT Rules 2021" in render_notice(request(), language="hi").subject
    assert "TAKE IT DOWN Act (47 U.S.C. 223a)" in flat(take_it_down.body)
    assert take_it_down.subject.startswith("TAKE IT DOWN Act")


def test_hindi_e_signature_note_only_when_the_channel_asks() -> None:
    note = notice_phrases("hi")["e_signature_note"].substitute()
    signed = render_notice(
        request(requires_e_signature=True), template="in_grievance_officer", language="hi"
    )
    plain = render_notice(request(), template="in_grievance_officer", language="hi")

    assert flat(note) in flat(signed.body)
    assert flat(note) not in flat(plain.body)
    assert flat(E_SIGNATURE_NOTE) not in flat(signed.body)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"identity": FAKE_VICTIM_NAME},
        {"requires_identity": True},
        {"requires_identity": True, "identity": "   "},
        {"requires_identity": False, "identity": FAKE_VICTIM_NAME},
    ],
)
def test_hindi_notice_names_the_person_only_when_required_and_consented(
    params: dict[str, object],
) -> None:
    withheld = flat(notice_phrases("hi")["withheld_identity"].substitute())
    for name in NOTICE_NAMES:
        notice = render_notice(request(**params), template=name, language="hi")
        assert FAKE_VICTIM_NAME not in notice.subject + notice.body
        assert withheld in flat(notice.body)

    for name in NOTICE_NAMES:
        named = render_notice(
            request(requires_identity=True, identity=FAKE_VICTIM_NAME), template=name, language="hi"
        )
        assert f"प्रभावित व्यक्ति, {FAKE_VICTIM_NAME}, ने इस नोटिस में अपना नाम बताए जाने" in named.body
        assert withheld not in flat(named.body)


def test_a_regional_tag_uses_its_language_and_unknown_ones_fall_back_to_english() -> None:
    assert render_notice(request(), language="hi-IN") == render_notice(request(), language="hi")
    assert render_notice(request(), language="mr") == render_notice(request())
    assert render_notice(request(), language="en-IN") == render_notice(request())
    english = {name: text.template for name, text in notice_phrases("en").items()}
    assert {name: text.template for name, text in notice_phrases("mr").items()} == english


def test_the_email_adapter_sends_the_notice_in_the_channel_language(smtp_sink: SmtpSink) -> None:
    key = new_key()
    address = f"grievance-{key}@host.example"
    filing = make_request(key, URL, address=address, language="hi")

    email_adapter(smtp_sink.port).file(filing)

    [message] = smtp_sink.handler.sent_to(address)
    assert message["Subject"] == render_notice(filing, language="hi").subject
    assert DEVANAGARI.search(message.get_content())


@pytest.fixture
def notice_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the notice templates the test may add a language to."""
    shutil.copytree(TEMPLATES_DIRECTORY, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(notices, "TEMPLATES_DIRECTORY", tmp_path)
    notices._load.cache_clear()
    notices.notice_phrases.cache_clear()
    yield tmp_path
    notices._load.cache_clear()
    notices.notice_phrases.cache_clear()


def test_a_new_language_is_files_only_and_falls_back_per_phrase(notice_folder: Path) -> None:
    tamil = notice_folder / "ta"
    tamil.mkdir()
    english_generic = (notice_folder / "en" / "generic.txt").read_text(encoding="utf-8")
    (tamil / "generic.txt").write_text(
        english_generic.replace("Content to remove:", "அகற்ற வேண்டிய உள்ளடக்கம்:"),
        encoding="utf-8",
    )
    (tamil / "phrases.toml").write_text(
        'withheld_identity = "அவர்களைப் பாதுகாக்க, இந்த அறிவிப்பு அவர்களை அடையாளம் காட்டவில்லை."\n',
        encoding="utf-8",
    )

    generic = render_notice(request(), template="generic", language="ta")
    officer = render_notice(request(), template="in_grievance_officer", language="ta")

    assert "அகற்ற வேண்டிய உள்ளடக்கம்:" in generic.body
    assert "இந்த அறிவிப்பு அவர்களை அடையாளம் காட்டவில்லை" in generic.body
    # Untranslated phrase: English; untranslated template: the whole notice in English.
    assert f"{ORGANISATION_NAME} acts on behalf of the affected person" in flat(generic.body)
    assert officer == render_notice(request(), template="in_grievance_officer")


def test_a_phrase_file_with_an_unknown_sentence_fails(notice_folder: Path) -> None:
    (notice_folder / "hi" / "phrases.toml").write_text('greeting = "नमस्ते"\n', encoding="utf-8")

    with pytest.raises(UnknownNoticeTemplate, match="phrases.toml"):
        render_notice(request(), language="hi")
