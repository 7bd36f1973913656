"""The audit log for admins: the organisation's events (as ``GET /api/v1/audit`` lists them)
and a button that verifies the whole hash chain (as ``GET /api/v1/audit/verify`` does).

The verification answers the POST with the page itself rather than a redirect: a result carried
in a URL could be forged by a link ("chain intact"), a rendered one cannot.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from tracker.api.deps import Offset, SessionDep
from tracker.audit.chain import HASH_MISMATCH, MISSING_LINK, PREV_HASH_MISMATCH, verify_chain
from tracker.audit.service import list_events
from tracker.console.context import AdminConsoleDep, Console, check_csrf
from tracker.console.i18n import N_, translations
from tracker.console.pages.alerts import actor_names
from tracker.console.render import render
from tracker.ids import MAX_ROW_ID

router = APIRouter()
PAGE_SIZE = 50

#: Details never hold identity, but a key that sounds as if it might is left off the page.
IDENTIFYING = ("label", "contact", "note", "url", "email", "name", "phone", "subject", "host")
#: Objects with a console page of their own.
OBJECT_PAGES = {"case": "/cases/{id}", "report": "/reports/{id}", "user": "/users/{id}"}
REASONS = {
    HASH_MISMATCH: N_("an event was changed after it was written"),
    MISSING_LINK: N_("an event is missing"),
    PREV_HASH_MISMATCH: N_("events were reordered or replaced"),
}


def detail_items(details: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's details as (key, value) text, without keys that could name someone."""
    items = []
    for key, value in sorted(details.items()):
        if any(word in key.lower() for word in IDENTIFYING):
            continue
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            items.append((key, ", ".join(str(v) for v in value)))
        elif value is None or isinstance(value, str | int | float | bool):
            items.append((key, str(value)))
    return items


def _object_id(text: str) -> tuple[int | None, bool]:
    """The object id filter as a number; False when it is not one."""
    text = text.strip()
    if not text:
        return None, True
    if not text.isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        return None, False
    return int(text), True


def _page(
    request: Request,
    session: SessionDep,
    console: Console,
    *,
    action: str,
    object_type: str,
    object_id: str,
    offset: int,
    verification: dict[str, Any] | None = None,
) -> Response:
    gettext = translations(console.language).gettext
    number, valid = _object_id(object_id)
    errors = {} if valid else {"object_id": gettext("The object id must be a whole number.")}
    rows, total = (
        ([], 0)
        if errors
        else list_events(
            session=session,
            organisation_id=console.principal.organisation_id,
            action=action.strip() or None,
            object_type=object_type.strip() or None,
            object_id=number,
            limit=PAGE_SIZE,
            offset=offset,
        )
    )
    filters = {"action": action, "object_type": object_type, "object_id": object_id}
    events = [
        {
            "event": row,
            "details": detail_items(row.details),
            "object_page": (
                OBJECT_PAGES[row.object_type].format(id=row.object_id)
                if row.object_type in OBJECT_PAGES and row.object_id is not None
                else None
            ),
        }
        for row in rows
    ]
    return render(
        request,
        "audit/list.html",
        {
            "events": events,
            "total": total,
            "offset": offset,
            "limit": PAGE_SIZE,
            "filters": filters,
            "errors": errors,
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "actors": actor_names(console, session),
            "verification": verification,
        },
        console=console,
        status_code=400 if errors else 200,
    )


@router.get("/audit")
def audit(
    request: Request,
    session: SessionDep,
    console: AdminConsoleDep,
    action: Annotated[str, Query(max_length=64)] = "",
    object_type: Annotated[str, Query(max_length=32)] = "",
    object_id: Annotated[str, Query(max_length=20)] = "",
    offset: Offset = 0,
) -> Response:
    """The organisation's audit events, newest first, with filters."""
    return _page(
        request,
        session,
        console,
        action=action,
        object_type=object_type,
        object_id=object_id,
        offset=offset,
    )


@router.post("/audit/verify", dependencies=[Depends(check_csrf)])
def verify(request: Request, session: SessionDep, console: AdminConsoleDep) -> Response:
    """Recompute the whole chain and show the answer on the audit page (changes nothing)."""
    report = verify_chain(session=session)
    gettext = translations(console.language).gettext
    verification = {
        "intact": report.intact,
        "checked": report.checked,
        "broken_at": report.broken_sequence,
        "reason": gettext(REASONS[report.reason]) if report.reason in REASONS else None,
    }
    return _page(
        request,
        session,
        console,
        action="",
        object_type="",
        object_id="",
        offset=0,
        verification=verification,
    )
