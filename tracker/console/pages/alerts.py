"""Alerts for supervisors and admins: what keeps failing, acknowledged or resolved by hand.

The list is the API's (``tracker.alerts.triage.list_alerts``): the same visibility, states and
kinds. Messages are the kind's generic text, translated here with the numbers the stored text
carries; subjects are put into words (a channel, a site, a report, the re-checker).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response

from tracker.alerts.kinds import (
    ADAPTER_PREFIX,
    CHECKER_SUBJECT,
    HOST_PREFIX,
    MESSAGES,
    REPORT_PREFIX,
    AlertKind,
    AlertState,
)
from tracker.alerts.models import Alert
from tracker.alerts.triage import acknowledge_alert, list_alerts, resolve_alert, state_of
from tracker.api.deps import IdPath, Offset, SessionDep
from tracker.console.app import redirect
from tracker.console.context import Console, SupervisorConsoleDep, check_csrf
from tracker.console.i18n import N_, translations
from tracker.console.render import render
from tracker.errors import Conflict
from tracker.organisations.service import list_users

router = APIRouter()
CsrfChecked = Depends(check_csrf)
PAGE_SIZE = 50

KIND_NAMES = {
    AlertKind.CHECKER_STALLED: N_("Re-checks are stalled"),
    AlertKind.CHANNEL_FAILING: N_("A channel keeps failing"),
    AlertKind.HOST_UNREACHABLE: N_("A site is unreachable"),
    AlertKind.FILING_ATTEMPTS_EXHAUSTED: N_("A filing used up its attempts"),
    AlertKind.ADAPTER_MISSING_CREDENTIALS: N_("A channel has no credentials"),
    AlertKind.ADAPTER_INVALID_CREDENTIALS: N_("A channel's credentials were refused"),
    AlertKind.REPORT_LADDER_EXHAUSTED: N_("Every escalation step was tried"),
    AlertKind.NOTIFICATION_EMAIL_FAILING: N_("Notification e-mails are failing"),
    AlertKind.NOTIFICATION_WEBHOOK_FAILING: N_("The webhook is failing"),
}
#: The generic message of each kind (tracker/alerts/kinds.py), with the same numbers.
KIND_MESSAGES = {
    AlertKind.CHECKER_STALLED: N_(
        "Due re-checks have waited more than %(seconds)s seconds. Is a worker or the "
        "scheduler down?"
    ),
    AlertKind.CHANNEL_FAILING: N_("The last %(count)s filing attempts on this channel failed."),
    AlertKind.HOST_UNREACHABLE: N_(
        "Every check of this site in the last hour found it unreachable (%(count)s or more)."
    ),
    AlertKind.FILING_ATTEMPTS_EXHAUSTED: N_(
        "A filing on this channel used up its attempts. The error is recorded on the filing."
    ),
    AlertKind.ADAPTER_MISSING_CREDENTIALS: N_(
        "This channel has no credentials. An admin adds them under Channels and policies."
    ),
    AlertKind.ADAPTER_INVALID_CREDENTIALS: N_(
        "The platform refused this channel's credentials. An admin replaces them under "
        "Channels and policies."
    ),
    AlertKind.REPORT_LADDER_EXHAUSTED: N_(
        "Every step of the escalation ladder was tried. A caseworker must decide what next."
    ),
    AlertKind.NOTIFICATION_EMAIL_FAILING: N_(
        "A notification e-mail failed after %(count)s attempts. The error is on the delivery."
    ),
    AlertKind.NOTIFICATION_WEBHOOK_FAILING: N_(
        "A webhook delivery failed after %(count)s attempts. The error is on the delivery."
    ),
}
STATE_NAMES = {
    AlertState.OPEN: N_("Open, acknowledged or not"),
    AlertState.ACKNOWLEDGED: N_("Acknowledged, still open"),
    AlertState.RESOLVED: N_("Resolved"),
}
DONE = {"acknowledged": N_("The alert is acknowledged."), "resolved": N_("The alert is resolved.")}
REFUSALS = {"alert.resolved": N_("This alert is already resolved.")}
ACTORS = {"watchdog": N_("the watchdog"), "worker": N_("a worker"), "system": N_("the system")}


def _pattern(template: str) -> re.Pattern[str]:
    """The stored message of a kind as a regular expression capturing its numbers."""
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>\\d+)"
            for index, part in enumerate(parts)
        )
    )


PATTERNS = {kind: _pattern(template) for kind, template in MESSAGES.items()}


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about, in words: a kind of thing and, where it has one, a name."""

    what: str  # "channel", "site", "report", "checker", "email", "webhook" or "other"
    name: str = ""
    report_id: int | None = None


def subject_of(subject: str) -> Subject:
    """An alert's subject as the page shows it."""
    if subject.startswith(ADAPTER_PREFIX):
        return Subject("channel", subject.removeprefix(ADAPTER_PREFIX))
    if subject.startswith(HOST_PREFIX):
        return Subject("site", subject.removeprefix(HOST_PREFIX))
    if subject.startswith(REPORT_PREFIX):
        number = subject.removeprefix(REPORT_PREFIX)
        return Subject("report", report_id=int(number)) if number.isdigit() else Subject("other")
    if subject == CHECKER_SUBJECT:
        return Subject("checker")
    if subject in ("email", "webhook"):
        return Subject(subject)
    return Subject("other", subject)


def message_of(alert: Alert, gettext: Callable[[str], str]) -> tuple[str, bool]:
    """The alert's message in the reader's language, and whether that worked (else English)."""
    try:
        kind = AlertKind(alert.kind)
    except ValueError:
        return alert.message, False
    found = PATTERNS[kind].fullmatch(alert.message)
    if found is None:
        return alert.message, False
    return gettext(KIND_MESSAGES[kind]) % found.groupdict(), True


def actor_names(console: Console, session: SessionDep) -> dict[str, str]:
    """Audit actors ("user:7", "watchdog") as names, for the organisation's users."""
    gettext = translations(console.language).gettext
    names = {actor: gettext(text) for actor, text in ACTORS.items()}
    for user in list_users(session=session, organisation_id=console.principal.organisation_id):
        names[f"user:{user.id}"] = user.display_name
    return names


def _kind(code: str) -> AlertKind | None:
    return AlertKind(code) if code in AlertKind._value2member_map_ else None


def _list_page(
    request: Request,
    session: SessionDep,
    console: Console,
    *,
    state: AlertState,
    kind: AlertKind | None,
    offset: int,
    done: str | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    rows, total = list_alerts(
        session=session,
        principal=console.principal,
        kind=kind,
        state=state,
        limit=PAGE_SIZE,
        offset=offset,
    )
    gettext = translations(console.language).gettext
    alerts = []
    for row in rows:
        message, translated = message_of(row, gettext)
        known = _kind(row.kind)
        alerts.append(
            {
                "alert": row,
                "state": state_of(row),
                "kind_name": gettext(KIND_NAMES[known]) if known else row.kind,
                "message": message,
                "message_translated": translated,
                "subject": subject_of(row.subject),
            }
        )
    filters = {"state": state.value, "kind": kind.value if kind else ""}
    return render(
        request,
        "alerts/list.html",
        {
            "alerts": alerts,
            "total": total,
            "offset": offset,
            "limit": PAGE_SIZE,
            "state": state,
            "kind": kind,
            "filters": filters,
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "states": [(code, gettext(text)) for code, text in STATE_NAMES.items()],
            "kinds": [(code, gettext(text)) for code, text in KIND_NAMES.items()],
            "actors": actor_names(console, session),
            "done": gettext(DONE[done]) if done in DONE else None,
            "refusal": refusal,
        },
        console=console,
        status_code=status_code,
    )


@router.get("/alerts")
def alerts(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    state: Annotated[str, Query(max_length=16)] = AlertState.OPEN.value,
    kind: Annotated[str, Query(max_length=64)] = "",
    offset: Offset = 0,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The organisation's alerts of one state (and kind), newest first, as the API lists them."""
    chosen = AlertState(state) if state in AlertState._value2member_map_ else AlertState.OPEN
    return _list_page(
        request, session, console, state=chosen, kind=_kind(kind), offset=offset, done=done
    )


def _act(
    request: Request,
    session: SessionDep,
    console: Console,
    *,
    alert_id: int,
    action: str,
    state: str,
    kind: str,
) -> Response:
    chosen = AlertState(state) if state in AlertState._value2member_map_ else AlertState.OPEN
    change = acknowledge_alert if action == "acknowledged" else resolve_alert
    try:
        change(session=session, principal=console.principal, alert_id=alert_id)
    except Conflict as error:
        session.rollback()
        gettext = translations(console.language).gettext
        code = error.problems[0].type if error.problems else ""
        message = gettext(REFUSALS.get(code, N_("That cannot be done now.")))
        return _list_page(
            request,
            session,
            console,
            state=chosen,
            kind=_kind(kind),
            offset=0,
            refusal=message,
            status_code=409,
        )
    session.commit()
    back = {"state": chosen.value, "kind": kind if _kind(kind) else "", "done": action}
    return redirect(
        "/alerts?" + urlencode({key: value for key, value in back.items() if value}), request
    )


@router.post("/alerts/{alert_id}/acknowledge", dependencies=[CsrfChecked])
def acknowledge(
    alert_id: IdPath,
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    state: Annotated[str, Form(max_length=16)] = AlertState.OPEN.value,
    kind: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Mark an alert as seen; it stays open until its cause clears (audited, as in the API)."""
    return _act(
        request, session, console, alert_id=alert_id, action="acknowledged", state=state, kind=kind
    )


@router.post("/alerts/{alert_id}/resolve", dependencies=[CsrfChecked])
def resolve(
    alert_id: IdPath,
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    state: Annotated[str, Form(max_length=16)] = AlertState.OPEN.value,
    kind: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Close an alert by hand; the watchdog opens it again if its cause persists (audited)."""
    return _act(
        request, session, console, alert_id=alert_id, action="resolved", state=state, kind=kind
    )
