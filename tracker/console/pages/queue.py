"""My queue: what needs the signed-in person now, most urgent first, then their open cases."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tracker.api.deps import SessionDep
from tracker.console.context import ConsoleDep
from tracker.console.pages.case_words import Phrases, report_rows
from tracker.console.render import render
from tracker.reports.queue import queue_of

router = APIRouter()


@router.get("/")
def my_queue(request: Request, session: SessionDep, console: ConsoleDep) -> Response:
    """The queue: packets to submit, overdue and near deadlines, reappeared, held, exhausted
    reports, failing channels; a caseworker's own cases only, a supervisor's organisation."""
    queue = queue_of(session=session, principal=console.principal)
    return render(
        request,
        "queue/index.html",
        {
            "queue": queue,
            "overdue": report_rows(session, queue.overdue.items, queue.now),
            "due_soon": report_rows(session, queue.due_soon.items, queue.now),
            "phrases": Phrases(console.language),
        },
        console=console,
    )
