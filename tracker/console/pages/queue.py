"""My queue: what needs the signed-in person now, most urgent first, then their open cases."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tracker.api.deps import SessionDep
from tracker.console.context import ConsoleDep
from tracker.console.pages.case_words import Phrases, report_rows
from tracker.console.pages.hash_bank import SIGNAL_TYPES, reupload_rows
from tracker.console.render import render
from tracker.matching.alerts import open_reuploads
from tracker.reports.queue import queue_of

router = APIRouter()
#: Re-upload alerts listed at most (the newest); acknowledging one shows the next.
REUPLOADS_SHOWN = 50
#: ``?done=`` codes the queue turns into a notice.
NOTICES = frozenset({"acknowledged"})


@router.get("/")
def my_queue(
    request: Request, session: SessionDep, console: ConsoleDep, done: str = ""
) -> Response:
    """The queue: packets to submit, overdue and near deadlines, reappeared and re-uploaded
    content, held, exhausted reports, failing channels; a caseworker's own cases only, a
    supervisor's organisation."""
    queue = queue_of(session=session, principal=console.principal)
    reuploads = open_reuploads(session=session, principal=console.principal, limit=REUPLOADS_SHOWN)
    return render(
        request,
        "queue/index.html",
        {
            "queue": queue,
            "overdue": report_rows(session, queue.overdue.items, queue.now),
            "due_soon": report_rows(session, queue.due_soon.items, queue.now),
            "reuploads": reupload_rows(session, console, reuploads),
            "reuploads_capped": len(reuploads) >= REUPLOADS_SHOWN,
            "signal_types": SIGNAL_TYPES,
            "phrases": Phrases(console.language),
            "done": done if done in NOTICES else None,
        },
        console=console,
    )
