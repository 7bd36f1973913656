"""Removal notices per jurisdiction, rendered from plain-text templates.

Templates live in ``templates/<language>/<name>.txt``: the first line is ``Subject: ...``, a
blank line follows, the rest is the body. They use ``string.Template`` placeholders; rendering
uses ``substitute`` so a template naming an unknown placeholder fails loudly in tests rather
than sending a notice with a literal ``$name`` in it. The sentences the code adds (authority,
identity, signature) live beside them in ``templates/<language>/phrases.toml``, so a notice is
in one language throughout and a new language is files only: a missing template falls back to
English per notice, a missing phrase per phrase.

Every notice goes out under the organisation's identity, states its authority to act for the
affected person and quotes the reference. The affected person is named only when the channel
requires it (``requires_identity``) *and* the tracker passed ``identity``, which it does only
when the case records the person's consent to be named.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from types import MappingProxyType
from typing import Any

from platform_adapters.base import FilingRequest

TEMPLATES_DIRECTORY = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE = "en"
NOTICE_NAMES = ("in_rule_3_2_b", "in_grievance_officer", "us_take_it_down", "generic")

SAFE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+=-]*(\.[A-Za-z0-9_+=-]+)*$")
MAX_REFERENCE_LENGTH = 128
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z]{2,4})?$")
# Legal-basis texts that mean Indian law (IT Rules 2021) or the US TAKE IT DOWN Act.
_INDIAN_LAW = re.compile(r"intermediary guidelines|rule 3\(2\)|\bindia\b|it rules", re.IGNORECASE)
_TAKE_IT_DOWN = re.compile(r"take it down|223a", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")

PHRASE_NAMES = (
    "statement_of_authority",
    "withheld_identity",
    "named_identity",
    "e_signature_note",
    "signature",
)


class UnknownNoticeTemplate(LookupError):
    """No notice template exists under this name."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A rendered notice: one-line subject and plain-text body."""

    subject: str
    body: str


def notice_reference(idempotency_key: str) -> str:
    """The reference quoted in a notice (and an e-mail's Message-ID), derived from the key."""
    if len(idempotency_key) <= MAX_REFERENCE_LENGTH and SAFE_REFERENCE.match(idempotency_key):
        return idempotency_key
    # Keys with characters a Message-ID or subject cannot hold get a stable digest instead.
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def choose_template(request: FilingRequest) -> str:
    """The template name for a filing: the channel's choice, else from legal basis and rung."""
    chosen = request.channel_params.get("notice")
    if chosen:
        if chosen not in NOTICE_NAMES:
            raise UnknownNoticeTemplate(f"no notice template named {chosen!r}")
        return str(chosen)
    if _INDIAN_LAW.search(request.legal_basis):
        if request.rung_target == "grievance_officer":
            return "in_grievance_officer"
        return "in_rule_3_2_b"
    if _TAKE_IT_DOWN.search(request.legal_basis):
        return "us_take_it_down"
    return "generic"


def is_identity_disclosed(channel_params: Mapping[str, Any]) -> bool:
    """Whether the affected person may be named: the channel requires it and consent was given."""
    identity = channel_params.get("identity")
    return (
        bool(channel_params.get("requires_identity"))
        and isinstance(identity, str)
        and bool(identity.strip())
    )


def render_notice(
    request: FilingRequest, *, template: str | None = None, language: str = DEFAULT_LANGUAGE
) -> Notice:
    """Render the notice for one filing; the template defaults to ``choose_template``."""
    name = template or choose_template(request)
    if name not in NOTICE_NAMES:
        raise UnknownNoticeTemplate(f"no notice template named {name!r}")
    folder = _language_folder(name, language)
    subject_template, body_template = _load(name, folder)
    # The phrases follow the template actually used, so a notice never mixes two languages.
    values = notice_values(request, folder)
    body = body_template.substitute(values)
    # Optional paragraphs that render empty must not leave gaps in the notice.
    return Notice(subject=subject_template.substitute(values), body=_BLANK_LINES.sub("\n\n", body))


def notice_values(request: FilingRequest, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The placeholder values every template may use, the sentences in ``language``."""
    phrases = notice_phrases(language)
    params = request.channel_params
    urls = [request.url]
    for extra_url in params.get("urls") or []:
        if isinstance(extra_url, str) and extra_url not in urls:
            urls.append(extra_url)
    organisation = request.organisation_name
    if is_identity_disclosed(params):
        identity_line = phrases["named_identity"].substitute(
            identity=str(params["identity"]).strip()
        )
    else:
        identity_line = phrases["withheld_identity"].substitute()
    signatory = params.get("signatory") or organisation
    e_signature_note = phrases["e_signature_note"].substitute()
    return {
        "url_lines": "\n".join(f"  - {url}" for url in urls),
        "legal_basis": request.legal_basis,
        "deadline_text": request.deadline_text,
        "organisation_name": organisation,
        "organisation_email": request.organisation_email,
        "reference": notice_reference(request.idempotency_key),
        "statement_of_authority": phrases["statement_of_authority"].substitute(
            organisation=organisation
        ),
        "identity_line": identity_line,
        "signature": phrases["signature"].substitute(
            signatory=signatory, organisation=organisation
        ),
        "e_signature_note": e_signature_note if params.get("requires_e_signature") else "",
    }


@cache
def notice_phrases(language: str = DEFAULT_LANGUAGE) -> Mapping[str, Template]:
    """The sentences code adds to a notice, in ``language`` where translated, else English."""
    phrases = _read_phrases(DEFAULT_LANGUAGE)
    missing = set(PHRASE_NAMES) - set(phrases)
    if missing:
        raise UnknownNoticeTemplate(f"en/phrases.toml lacks {sorted(missing)}")
    # "hi-IN" reads hi, then hi-IN over it: the most specific translation of each phrase wins.
    for folder in reversed(_candidates(language)):
        if folder != DEFAULT_LANGUAGE:
            phrases.update(_read_phrases(folder))
    return MappingProxyType({name: Template(text) for name, text in phrases.items()})


def _language_folder(name: str, language: str) -> str:
    """The language folder to read; English when the language has no such template yet."""
    # A notice in English beats no notice: fall back until a translation exists.
    for folder in _candidates(language):
        if (TEMPLATES_DIRECTORY / folder / f"{name}.txt").is_file():
            return folder
    return DEFAULT_LANGUAGE


def _candidates(language: str) -> tuple[str, ...]:
    """The folders to try for a language tag: "hi-IN" tries hi-IN, then hi."""
    if not _LANGUAGE.match(language):
        raise UnknownNoticeTemplate(f"not a language tag: {language!r}")
    primary = language.split("-")[0]
    return (language, primary) if primary != language else (language,)


def _read_phrases(folder: str) -> dict[str, str]:
    """The phrases of one language folder (none when it has no ``phrases.toml``)."""
    path = TEMPLATES_DIRECTORY / folder / "phrases.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        phrases = tomllib.load(handle)
    unknown = set(phrases) - set(PHRASE_NAMES)
    if unknown or not all(isinstance(text, str) for text in phrases.values()):
        raise UnknownNoticeTemplate(f"{folder}/phrases.toml: unknown or non-text {sorted(unknown)}")
    return phrases


@cache
def _load(name: str, language: str) -> tuple[Template, Template]:
    """The subject and body templates of one file."""
    text = (TEMPLATES_DIRECTORY / language / f"{name}.txt").read_text(encoding="utf-8")
    first_line, _, body = text.partition("\n")
    if not first_line.startswith("Subject: "):
        raise UnknownNoticeTemplate(f"template {language}/{name} lacks its Subject line")
    return Template(first_line.removeprefix("Subject: ")), Template(body.lstrip("\n"))


# The English note, for callers that quote it (the sentence itself lives in en/phrases.toml).
E_SIGNATURE_NOTE = notice_phrases(DEFAULT_LANGUAGE)["e_signature_note"].template
