"""The bundle's PDF report: each URL with its filings and the checks that prove it live or gone.

fpdf2's core font (Helvetica) covers Latin-1 only and fpdf2 ships no Unicode font, so any other
character is written as "?" (the manifest says so; the text files keep every character).
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from tracker.exports.records import CaseRecords, CheckLine, ReportRecord
from tracker.exports.texts import stamp

FONT = "Helvetica"
#: The manifest's note when the PDF had to replace characters.
REPLACED_NOTE = (
    "report.pdf uses a Latin-1 font: characters outside Latin-1 are shown as '?'; "
    "ncrp.txt and certificate-bsa-63.txt keep them in UTF-8."
)


class _Report(FPDF):
    """An A4 document with page numbers and nothing that varies between runs."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.title_text = title
        self.replaced = False
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 5, self.safe(f"{self.title_text} - page {self.page_no()}"), align="C")

    def safe(self, text: str) -> str:
        """Text the core font can write: anything outside Latin-1 becomes '?'."""
        encoded = text.encode("latin-1", errors="replace").decode("latin-1")
        if encoded != text:
            self.replaced = True
        return encoded

    def line_of(
        self,
        text: str,
        *,
        size: float = 9,
        bold: bool = False,
        height: float = 4.5,
        anywhere: bool = False,
    ) -> None:
        """A paragraph wrapped at words, or ``anywhere`` (a URL has no spaces to wrap at)."""
        self.set_font(FONT, style="B" if bold else "", size=size)
        self.multi_cell(
            0,
            height,
            self.safe(text),
            wrapmode=WrapMode.CHAR if anywhere else WrapMode.WORD,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def _check_text(line: CheckLine) -> str:
    if line.check is None:
        return (
            f"... {line.skipped} further check(s) with the verdict {line.verdict} "
            f"from {stamp(line.first)} to {stamp(line.last)}"
        )
    check = line.check
    status = check.http_status if check.http_status is not None else "no answer"
    return f"{stamp(check.checked_at)}: {check.verdict} (HTTP {status}; {check.reason})"


def _report_section(document: _Report, record: ReportRecord) -> None:
    report = record.report
    document.ln(3)
    document.line_of(f"URL {record.number} (report {report.id})", size=12, bold=True, height=6)
    document.line_of(report.original_url, anywhere=True)
    document.line_of(
        f"Platform: {report.platform}; host: {report.host}; current state: {report.state}; "
        f"logged {stamp(report.created_at)}; policy: {record.policy_title}"
    )
    document.ln(1)
    document.line_of(f"Filings ({len(record.filings)})", bold=True, size=10)
    if not record.filings:
        document.line_of("None yet.")
    for number, item in enumerate(record.filings, start=1):
        filing = item.filing
        document.line_of(
            f"{record.number}.{number} Rung {filing.rung_index + 1} ({filing.track}): "
            f"{filing.rung_target} via {filing.channel_kind} ({filing.adapter}); "
            f"platform reference: {filing.external_ref or 'none'}",
            bold=True,
        )
        document.line_of(f"Legal basis: {item.legal_basis or '-'}")
        document.line_of(
            f"Deadline {stamp(filing.deadline_at)}; submitted {stamp(filing.submitted_at)}; "
            f"confirmed {stamp(filing.confirmed_at)}; status {filing.status}"
            + (f"; platform status {filing.platform_status}" if filing.platform_status else "")
        )
    document.ln(1)
    document.line_of(
        f"Checks ({record.check_count}; each run of one verdict is shown by its first and last "
        "check, removals by their confirmations)",
        bold=True,
        size=10,
    )
    if not record.checks:
        document.line_of("None yet.")
    for line in record.checks:
        document.line_of(_check_text(line))


def render_pdf(records: CaseRecords) -> tuple[bytes, bool]:
    """The PDF report's bytes, and whether characters had to be replaced."""
    case = records.case
    title = f"Case {case.id}: takedown record"
    document = _Report(title)
    document.set_creation_date(records.generated_at)
    document.set_title(title)
    document.set_author(records.organisation.name)
    document.set_creator("takedown-tracker")
    document.set_producer("takedown-tracker (fpdf2)")
    document.add_page()
    document.line_of(title, size=16, bold=True, height=8)
    first = min((record.report.created_at for record in records.reports), default=None)
    for text in (
        f"Case number: {case.id}",
        f"Pseudonymous label: {case.label}",
        f"Organisation: {records.organisation.name} ({records.organisation.contact_email})",
        f"Jurisdictions: {', '.join(case.jurisdictions)}",
        f"Case opened: {stamp(case.created_at)}; first URL logged: {stamp(first)}; "
        f"status: {case.status}",
        f"Records up to: {stamp(records.generated_at)} (all times UTC)",
        f"URLs: {len(records.reports)}",
    ):
        document.line_of(text, size=10, height=5)
    for record in records.reports:
        _report_section(document, record)
    return bytes(document.output()), document.replaced
