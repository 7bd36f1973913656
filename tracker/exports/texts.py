"""The plain-text files of the bundle: the draft BSA s63 certificate and the NCRP complaint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tracker.cases.schemas import ContactDetails
from tracker.exports.records import CaseRecords, ReportRecord

PORTAL = "National Cyber Crime Reporting Portal, https://cybercrime.gov.in (helpline 1930)"
WOMEN_CATEGORY = "Women/Child related crime: sexually explicit content shared without consent"
CHILD_CATEGORY = (
    "Women/Child related crime, child category: child sexual abuse material "
    "(Protection of Children from Sexual Offences Act, 2012 - reporting is mandatory)"
)
#: Sections the facts may fit; the police decide. (Adult case.)
ADULT_SECTIONS = (
    "Information Technology Act 2000, s66E (capturing or publishing images of a private area)",
    "Information Technology Act 2000, s67 (publishing obscene material in electronic form)",
    "Information Technology Act 2000, s67A (publishing sexually explicit material)",
    "Bharatiya Nyaya Sanhita 2023, s77 (voyeurism; consent to capture is not consent to share)",
    "Bharatiya Nyaya Sanhita 2023, s79 (word, gesture or act intended to insult a woman's modesty)",
)
MINOR_SECTIONS = (
    "Protection of Children from Sexual Offences Act 2012 (POCSO), ss13-15 "
    "(use of a child for pornographic purposes; storage or transmission of such material)",
    "Information Technology Act 2000, s67B (material depicting children in sexually explicit acts)",
    "Information Technology Act 2000, s66E (capturing or publishing images of a private area)",
)
SIGNATURE_BLOCK = (
    "Name of the responsible person: ____________________________",
    "Designation / official position: __________________________",
    "Organisation: {organisation}",
    "Signature: ________________________________________________",
    "Date: ____________________   Place: _______________________",
)


def stamp(moment: datetime | None) -> str:
    """A time as the bundle writes it: ISO 8601 in UTC, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "-"


def evidence_path(evidence_id: int | None, sha256: str, media_type: str) -> str:
    """Where an evidence file sits in the bundle."""
    return f"evidence/{evidence_id}-{sha256[:12]}.{extension(media_type)}"


EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "application/pdf": "pdf",
    "application/json": "json",
    "text/plain": "txt",
    "text/html": "html",
    "text/csv": "csv",
    "message/rfc822": "eml",
}


def extension(media_type: str) -> str:
    """A file extension for a media type (``bin`` when unknown)."""
    return EXTENSIONS.get(media_type.split(";")[0].strip().lower(), "bin")


def certificate(records: CaseRecords, *, tracker_version: str) -> str:
    """The draft certificate under Bharatiya Sakshya Adhiniyam 2023 s63(4)(c)."""
    case = records.case
    lines = [
        "DRAFT: to be checked, completed and signed by the organisation; "
        "not a certificate until signed.",
        "",
        "CERTIFICATE UNDER SECTION 63(4)(c) OF THE BHARATIYA SAKSHYA ADHINIYAM, 2023",
        f"Case {case.id} of {records.organisation.name}",
        "",
        "Note: whether the Schedule form has a Part A (to be signed by the party) and a Part B",
        "(to be signed by an expert) is unconfirmed. Check the current Schedule and use the",
        "parts it requires; this draft gives the facts both would need.",
        "",
        "1. The computer systems and processes that produced the electronic records",
        f"   - Takedown-request tracker, version {tracker_version}, operated by "
        f"{records.organisation.name}.",
        f"   - Database: {records.database_kind}; every time is recorded in UTC from the "
        "server's clock.",
        "   - Re-checks: an HTTP GET of each reported URL from the organisation's server; the",
        "     response is classified and a fingerprint of the bytes read is kept, never the",
        "     content itself.",
        "   - Evidence files are stored encrypted (a per-case key) and decrypted only into",
        "     this bundle; their SHA-256 was computed when they were received.",
        "",
        "2. The electronic records and their hash values (SHA-256)",
    ]
    stored = [item for item in records.evidence if item.purged_at is None]
    if not records.evidence:
        lines.append("   - No evidence files or captures are recorded for this case.")
    for item in records.evidence:
        produced = (
            f"uploaded by {item.captured_by}"
            if item.kind == "upload"
            else f"captured automatically by {item.captured_by} during a re-check"
        )
        where = (
            evidence_path(item.id, item.sha256, item.media_type)
            if item.purged_at is None
            else f"not included: purged {stamp(item.purged_at)}"
        )
        lines += [
            f"   - Evidence {item.id} ({item.kind}, {item.media_type}, {item.size_bytes} bytes)",
            f"     SHA-256: {item.sha256}",
            f"     Produced: {stamp(item.captured_at)}, {produced}"
            + (f", report {item.report_id}" if item.report_id else ""),
            f"     In this bundle: {where}",
        ]
    lines += [
        "",
        "3. The files of this bundle, with their SHA-256, are listed in manifest.json and",
        "   SHA256SUMS (verify with: sha256sum -c SHA256SUMS).",
        "",
        "4. To the best of my knowledge and belief, the records above were produced by the",
        "   systems described during their ordinary use, which were operating properly (or",
        "   any fault did not affect the records or their accuracy), and the hash values",
        "   identify the records exactly.",
        "",
        *(line.format(organisation=records.organisation.name) for line in SIGNATURE_BLOCK),
        "",
        f"Records up to {stamp(records.generated_at)}; "
        f"{len(stored)} of {len(records.evidence)} evidence records included.",
    ]
    return "\n".join(lines) + "\n"


def ncrp(records: CaseRecords, *, contact: Callable[[], ContactDetails | None]) -> str:
    """The text to paste into the NCRP complaint form; legal sections are suggestions."""
    case = records.case
    reports = [record.report for record in records.reports]
    first_logged = min((report.created_at for report in reports), default=case.created_at)
    platforms = sorted({report.platform for report in reports})
    minor = case.minor_involved
    lines = [
        "Complaint text for the " + PORTAL,
        "Reviewed and submitted by a person; nothing here is sent automatically.",
        "",
        f"Incident category: {CHILD_CATEGORY if minor else WOMEN_CATEGORY}",
        f"Date of incident (first logged by {records.organisation.name}): {stamp(first_logged)}",
        f"Platform(s): {', '.join(platforms) if platforms else '-'}",
        "",
        "Complainant:",
    ]
    details = contact() if case.consent_to_share_identity else None
    if details is not None:
        lines += [
            f"  Name: {details.name or '-'}",
            f"  E-mail: {details.email or '-'}",
            f"  Phone: {details.phone or '-'}",
            f"  Supported by: {records.organisation.name}, {records.organisation.contact_email}",
        ]
    else:
        lines += [
            f"  {records.organisation.name}, {records.organisation.contact_email}, acting for the",
            "  person affected (their identity is withheld: sharing it is not consented to).",
        ]
    lines += ["", "Suspect's URLs (where the material was shared):"]
    for record in records.reports:
        lines.append(f"  {record.number}. {record.report.original_url}")
    lines += ["", "Description:"]
    lines += _description(records)
    lines += [
        "",
        "Legal sections the facts MAY fit (suggestions only; for the police to decide):",
        *(f"  - SUGGESTION: {item}" for item in (MINOR_SECTIONS if minor else ADULT_SECTIONS)),
        "",
        "Attach: report.pdf (the timeline), the evidence files and certificate-bsa-63.txt of this",
        "bundle, after checking them.",
    ]
    return "\n".join(lines) + "\n"


def _numbers(records: list[ReportRecord]) -> str:
    return ", ".join(str(record.number) for record in records) if records else "none"


def _description(records: CaseRecords) -> list[str]:
    reports = records.reports
    filed = sum(len(record.filings) for record in reports)
    lines = [
        f"  {records.organisation.name} logged {len(reports)} URL(s) where intimate images of the",
        "  person are reported to have been shared without consent, and reported them to the",
        f"  platforms and intermediaries ({filed} filing(s)):",
    ]
    for record in reports:
        for item in record.filings:
            filing = item.filing
            lines.append(
                f"  - URL {record.number}: {filing.rung_target} via {filing.channel_kind} "
                f"({filing.adapter}), reference {filing.external_ref or 'none yet'}, "
                f"sent {stamp(filing.submitted_at)}, status {filing.status}"
            )
    live = [record for record in reports if record.report.last_verdict == "live"]
    gone = [record for record in reports if record.report.last_verdict == "removed"]
    unchecked = [record for record in reports if record.report.last_verdict is None]
    lines += [
        "  At the last check of each URL (see report.pdf for every date):",
        f"  - still live: URL {_numbers(live)}",
        f"  - removed: URL {_numbers(gone)}",
        f"  - not checked yet: URL {_numbers(unchecked)}",
    ]
    others = len(reports) - len(live) - len(gone) - len(unchecked)
    if others:
        lines.append(f"  - {others} URL(s) could not be read (blocked, unreachable or withheld)")
    return lines
