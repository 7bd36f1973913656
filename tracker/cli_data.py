"""`tracker import` (URLs from a file into a case) and `tracker export` (organisation data to
a file), with a progress bar on standard error.

Both run the services the API runs: an import is the API's intake (``add_urls``) as the user
it names, so it is attributed to them in the audit log and held to what they may do; an
export is the listing export (``export_reports``). An error that stops a command is one line
on standard error and exit code 2.

``export`` is a group: another export is one more ``@export_app.command`` using
``_organisation``, ``_written_to`` and ``_progress``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from tracker.ids import MAX_ROW_ID
from tracker.reports.export import ExportFormat
from tracker.reports.lifecycle import ReportState
from tracker.reports.schemas import MAX_URLS

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlmodel import Session

    from tracker.organisations.models import Organisation, User
    from tracker.organisations.service import Principal
    from tracker.reports.paste import Entry
    from tracker.reports.schemas import IntakeResult

export_app = typer.Typer(help="Write organisation data to a file.", no_args_is_help=True)

#: The largest file ``tracker import`` reads (the intake body limit's ceiling).
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: URLs logged per intake (one transaction each); at most the intake's own limit.
IMPORT_CHUNK = 1000
#: Refused lines listed in the summary; the rest are counted.
REFUSED_SHOWN = 1000
#: Why a line is refused, in words that never repeat what was on it.
REASONS = {
    "no_address": "no address on this line",
    "url.empty": "the address is empty",
    "url.too_long": "the address is too long",
    "url.not_a_url": "this does not look like a web address",
    "url.credentials_not_allowed": "the address contains a user name or password",
    "url.scheme_not_allowed": "only web addresses (http or https) can be followed",
    "url.host_invalid": "the site name in this address is not valid",
    "url.not_public": "this address is not on the public internet: it can never be checked",
}


def register(app: typer.Typer) -> None:
    """Add `import` and the `export` group to the `tracker` command."""
    app.command("import")(import_urls)
    app.add_typer(export_app, name="export")
    import tracker.cli_scorecards  # noqa: F401, PLC0415 - registers the scorecard exports


def _stop(command: str, message: str) -> typer.Exit:
    typer.echo(f"tracker {command}: {message}", err=True)
    return typer.Exit(code=2)


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error; yields the function that moves it on."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar: Progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.advance(task, done)


def _organisation(command: str, session: Session, name: str) -> Organisation:
    """The organisation of this exact name; exit 2 if there is none."""
    from tracker.organisations.service import find_organisation

    found = find_organisation(session=session, name=name)
    if found is None or found.id is None:
        raise _stop(command, f"no organisation named {name!r}")
    return found


# --- import -------------------------------------------------------------------------------


def _user(session: Session, given: str, organisation_id: int | None) -> User:
    """The user named by id, console sign-in name or notification e-mail; exit 2 if none or
    several match, or if they may not log URLs."""
    from sqlalchemy import func, or_
    from sqlmodel import select

    from tracker.organisations.models import Role, User

    if given.isdigit():
        found = session.get(User, int(given)) if int(given) <= MAX_ROW_ID else None
        matches = [found] if found is not None else []
    else:
        wanted = given.strip().lower()
        query = select(User).where(
            or_(func.lower(User.login) == wanted, func.lower(User.notification_email) == wanted)
        )
        matches = list(session.exec(query).all())
    if organisation_id is not None:
        matches = [user for user in matches if user.organisation_id == organisation_id]
    if not matches:
        where = " in that organisation" if organisation_id is not None else ""
        raise _stop("import", f"no user {given!r}{where}")
    if len(matches) > 1:
        raise _stop("import", f"several users match {given!r}; give the user's id")
    user = matches[0]
    if not user.is_active:
        raise _stop("import", f"user {user.id} is deactivated")
    if Role(user.role) not in (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN):
        raise _stop(
            "import",
            f"user {user.id} is a {Role(user.role).value} user: only a caseworker, supervisor "
            "or admin logs URLs",
        )
    return user


def _entries(path: Path) -> list[Entry]:
    """The lines of the file as intake entries: a CSV file's cells, or a text file's lines."""
    from tracker.reports.paste import Unreadable, decode_upload, entries_from_csv, entries_from_text

    try:
        if not path.is_file():
            raise _stop("import", "the file does not exist or is not a file")
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise _stop("import", f"the file is larger than {MAX_IMPORT_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as error:
        raise _stop("import", f"cannot read the file: {error.strerror}") from None
    try:
        text = decode_upload(data)
        is_csv = path.suffix.lower() in (".csv", ".tsv")
        entries = entries_from_csv(text) if is_csv else entries_from_text(text)
    except Unreadable as error:
        raise _stop("import", f"cannot read the file: {error}") from None
    if not entries:
        raise _stop("import", "the file holds no lines")
    return entries


@dataclass
class ImportSummary:
    """What an import did: counts, and each refused line with the code of its reason."""

    logged: int = 0
    duplicates: int = 0
    held: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    def add(self, entries: list[Entry], results: list[IntakeResult]) -> None:
        """Count one intake's results; ``entries[i]`` is the line of ``results[i]``."""
        for entry, result in zip(entries, results, strict=True):
            if result.outcome == "created":
                self.logged += 1
                self.held += result.hold_reason is not None
            elif result.outcome == "duplicate":
                self.duplicates += 1
            else:
                self.refused.append((entry.line, result.reason_type or "url.invalid"))

    def lines(self) -> list[str]:
        """The summary as printed."""
        shown = [
            f"  line {line}: {REASONS.get(code, code)}"
            for line, code in sorted(self.refused)[:REFUSED_SHOWN]
        ]
        more = len(self.refused) - len(shown)
        return [
            f"logged: {self.logged}" + (f" ({self.held} held, not filed yet)" * bool(self.held)),
            f"duplicates: {self.duplicates}",
            f"refused: {len(self.refused)}",
            *shown,
            *([f"  and {more} more"] if more > 0 else []),
        ]


def _acting(session: Session, case_id: int, user: User) -> Principal:
    """The principal the import runs as, if they may act on the case; exit 2 if not."""
    from tracker.cases.models import Case, CaseStatus
    from tracker.cases.service import get_case
    from tracker.organisations.models import Role
    from tracker.organisations.service import Principal

    assert user.id is not None
    # Built as the API builds it from a key: the user's organisation and role.
    principal = Principal(
        user_id=user.id, organisation_id=user.organisation_id, role=Role(user.role)
    )
    case = session.get(Case, case_id)
    if case is None:
        raise _stop("import", f"no case {case_id}")
    if get_case(session=session, principal=principal, case_id=case_id) is None:
        raise _stop("import", f"user {user.id} may not act on case {case_id}")
    if case.status == CaseStatus.CLOSED:
        raise _stop("import", f"case {case_id} is closed")
    return principal


def import_urls(
    file: Annotated[Path, typer.Argument(help="A CSV file (.csv, .tsv) or a text file")],
    case: Annotated[int, typer.Option(help="The case to log the URLs into", min=1, max=MAX_ROW_ID)],
    as_user: Annotated[
        str,
        typer.Option(help="Who logs them: a user's id, console sign-in name or e-mail"),
    ],
    organisation: Annotated[
        str | None, typer.Option(help="The organisation the case and user must be of")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="URLs logged per transaction", min=1, max=MAX_URLS)
    ] = IMPORT_CHUNK,
) -> None:
    """Log the URLs of a file into a case, as the API's intake does.

    The same checks and duplicate handling as the API and the console; then how many were
    logged, were duplicates, or were refused (by line number and reason; never what the line
    said). Run it again after a failure: what was logged is found as duplicates.
    """
    from tracker.errors import DomainError
    from tracker.reports.intake import add_urls
    from tracker.runtime import database

    entries = _entries(file)
    db = database()
    with db.session() as session:
        organisation_id = None
        if organisation is not None:
            organisation_id = _organisation("import", session, organisation).id
        user = _user(session, as_user, organisation_id)
        principal = _acting(session, case, user)
    summary = ImportSummary()
    summary.refused = [(entry.line, "no_address") for entry in entries if entry.url is None]
    with_url = [entry for entry in entries if entry.url is not None]
    with _progress("Logging URLs", len(entries)) as advance:
        advance(len(summary.refused))
        for start in range(0, len(with_url), chunk_size):
            chunk = with_url[start : start + chunk_size]
            try:
                with db.transaction() as session:
                    results = add_urls(
                        session=session,
                        principal=principal,
                        case_id=case,
                        urls=[entry.url or "" for entry in chunk],
                        allow_partial=True,
                    )
            except DomainError as error:
                raise _stop(
                    "import",
                    f"stopped at line {chunk[0].line}: {error}; {summary.logged} URLs logged "
                    "before it (run it again: those are found as duplicates)",
                ) from None
            summary.add(chunk, results)
            advance(len(chunk))
    for line in summary.lines():
        typer.echo(line)


# --- export -------------------------------------------------------------------------------


@contextmanager
def _written_to(command: str, output: Path | None, *, newline: str = "") -> Iterator[IO[str]]:
    """Standard output, or a new file (mode 0600) that replaces ``output`` only once complete."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        descriptor, partial = tempfile.mkstemp(dir=output.parent, prefix=".export-")
    except OSError as error:
        raise _stop(command, f"cannot write to that folder: {error.strerror}") from None
    try:
        with open(descriptor, "w", encoding="utf-8", newline=newline) as stream:
            yield stream
        os.replace(partial, output)
    except BaseException:
        os.unlink(partial)
        raise


@export_app.command("reports")
def export_reports_command(
    organisation: Annotated[str, typer.Option(help="The organisation's name")],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="csv or jsonl (JSON lines)")
    ] = ExportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option(help="The file to write (default: standard output)")
    ] = None,
    case: Annotated[
        int | None, typer.Option(help="Only this case's reports", min=1, max=MAX_ROW_ID)
    ] = None,
    state: Annotated[ReportState | None, typer.Option(help="Only reports in this state")] = None,
    platform: Annotated[str | None, typer.Option(help="Only reports on this platform")] = None,
    overdue: Annotated[
        bool | None,
        typer.Option("--overdue/--not-overdue", help="Only overdue (or only not overdue) reports"),
    ] = None,
) -> None:
    """Write the organisation's reports to a file, as GET /api/v1/reports/export does.

    The listing's rows for these filters, newest first, in CSV or JSON lines.
    """
    from tracker.audit.service import record
    from tracker.db import utcnow
    from tracker.reports.export import export_reports, read_in_one_snapshot
    from tracker.reports.filters import report_filter
    from tracker.reports.service import organisation_scope
    from tracker.runtime import database

    if platform is not None and len(platform) > 64:
        raise _stop("export reports", "--platform: at most 64 characters")
    db = database()
    with db.session() as session:
        read_in_one_snapshot(session=session)  # the progress bar's total is the file's
        found = _organisation("export reports", session, organisation)
        assert found.id is not None
        scope = organisation_scope(session=session, organisation_id=found.id, case_id=case)
        if scope == []:
            raise _stop("export reports", f"no case {case} in organisation {organisation!r}")
        filters = report_filter(
            organisation_id=found.id,
            case_ids=scope,
            state=state,
            platform=platform,
            overdue=overdue,
            now=utcnow(),
        )
        total = filters.count(session=session)
        with db.transaction() as recording:
            record(
                session=recording,
                actor="cli",
                action="reports.exported",
                object_type="organisation",
                object_id=found.id,
                organisation_id=found.id,
                details={
                    "format": export_format.value,
                    "case_id": case,
                    "state": state,
                    "platform": platform,
                    "overdue": overdue,
                    "selected": total,
                },
            )
        with (
            _written_to("export reports", output) as stream,
            _progress("Exporting reports", total) as advance,
        ):
            for piece in export_reports(
                session=session, filters=filters, export_format=export_format, on_rows=advance
            ):
                stream.write(piece)
    if output is not None:
        typer.echo(f"{total} reports written to {output}", err=True)
