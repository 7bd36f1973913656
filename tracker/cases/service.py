"""Cases: creating, reading, listing and updating them, with visibility by role."""

import re
from datetime import date
from typing import Any

from sqlalchemy import String, cast, false, func, or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.keys import open_text, seal_text
from tracker.cases.models import Case, CaseStatus
from tracker.cases.schemas import CaseCreate, CaseUpdate, ContactDetails
from tracker.db import utcnow
from tracker.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from tracker.filings.models import Filing
from tracker.ids import MAX_ROW_ID
from tracker.organisations.models import Role, User
from tracker.organisations.service import Principal, get_user
from tracker.pagination import paginate
from tracker.policies.service import NoPolicy, policy_in_force
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.rollups import (
    cases_holding,
    holds_reports,
    overdue_condition,
    report_totals,
)

ASSIGNABLE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
#: A case reference typed into a search: "12" or "#12".
CASE_REFERENCE = re.compile(r"^#?\s*([0-9]{1,10})$")
#: The longest search text (a label is at most 120 characters, a reference at most 255).
SEARCH_MAX_LENGTH = 120
#: A jurisdiction code as policies name them (upper-cased first).
JURISDICTION_CODE = re.compile(r"^[A-Z0-9_-]{1,16}$")
#: The encrypted columns of a case, which listings leave unread.
SEALED_COLUMNS: tuple[Any, ...] = (  # SQLModel types them as str
    Case.contact_name,
    Case.contact_email,
    Case.contact_phone,
    Case.notes,
)


def _require_case_data(principal: Principal) -> None:
    if not principal.sees_case_data:
        raise Forbidden.one(
            ("auth",), "dashboard keys see aggregate figures only", "auth.forbidden"
        )


def _check_jurisdictions(*, session: Session, codes: list[str]) -> list[str]:
    problems = []
    normalised = []
    for index, code in enumerate(codes):
        try:
            policy_in_force(session=session, jurisdiction=code, on=date.today())
        except NoPolicy:
            problems.append(
                Problem(
                    loc=("body", "jurisdictions", index),
                    msg=f"no policy is in force for jurisdiction {code!r}",
                    type="case.unknown_jurisdiction",
                )
            )
        normalised.append(code.upper())
    if problems:
        raise Invalid(problems)
    return list(dict.fromkeys(normalised))


def _check_assignee(*, session: Session, principal: Principal, user_id: int) -> int:
    if principal.role is Role.CASEWORKER and user_id != principal.user_id:
        raise Forbidden.one(
            ("body", "assigned_to"),
            "caseworkers may only assign cases to themselves",
            "case.assign_forbidden",
        )
    user = get_user(session=session, organisation_id=principal.organisation_id, user_id=user_id)
    if user is None or not user.is_active or Role(user.role) not in ASSIGNABLE_ROLES:
        raise Invalid.one(
            ("body", "assigned_to"),
            "no active caseworker with this id in your organisation",
            "case.unknown_assignee",
        )
    return user_id


def _apply_contact(session: Session, case: Case, contact: ContactDetails | None) -> None:
    """Store contact details sealed with the case's key (inside the master-key column)."""
    assert case.id is not None
    email = str(contact.email) if contact and contact.email else None
    for field, value in (
        ("contact_name", contact.name if contact else None),
        ("contact_email", email),
        ("contact_phone", contact.phone if contact else None),
    ):
        setattr(case, field, seal_text(session=session, case_id=case.id, value=value))


def contact_of(*, session: Session, case: Case) -> ContactDetails | None:
    """The decrypted contact details of a case, or None (also once its key is destroyed)."""
    assert case.id is not None
    name, email, phone = (
        open_text(session=session, case_id=case.id, value=value)
        for value in (case.contact_name, case.contact_email, case.contact_phone)
    )
    if not (name or email or phone):
        return None
    return ContactDetails(name=name, email=email, phone=phone)


def notes_of(*, session: Session, case: Case) -> str | None:
    """The decrypted notes of a case, or None (also once its key is destroyed)."""
    assert case.id is not None
    return open_text(session=session, case_id=case.id, value=case.notes)


def create_case(*, session: Session, principal: Principal, data: CaseCreate) -> Case:
    """Open a case for the caller's organisation."""
    _require_case_data(principal)
    jurisdictions = _check_jurisdictions(session=session, codes=data.jurisdictions)
    assignee = _check_assignee(
        session=session, principal=principal, user_id=data.assigned_to or principal.user_id
    )
    case = Case(
        organisation_id=principal.organisation_id,
        label=data.label,
        jurisdictions=jurisdictions,
        assigned_to=assignee,
        authority_to_act=data.authority_to_act,
        consent_to_share_identity=data.consent_to_share_identity,
        minor_involved=data.minor_involved,
        created_by=principal.user_id,
    )
    session.add(case)
    session.flush()  # the id first: the case's key belongs to it
    assert case.id is not None
    case.notes = seal_text(session=session, case_id=case.id, value=data.notes)
    _apply_contact(session, case, data.contact)
    session.add(case)
    session.flush()
    record(
        session=session,
        actor=principal.actor,
        action="case.created",
        object_type="case",
        object_id=case.id,
        organisation_id=principal.organisation_id,
    )
    return case


def get_case(*, session: Session, principal: Principal, case_id: int) -> Case | None:
    """A case the caller may see, or None (also for cases of others: no existence leak)."""
    _require_case_data(principal)
    case = session.get(Case, case_id)
    if case is None or case.organisation_id != principal.organisation_id:
        return None
    if not principal.sees_all_cases and case.assigned_to != principal.user_id:
        return None
    return case


def require_case(*, session: Session, principal: Principal, case_id: int) -> Case:
    """Like get_case, raising NotFound."""
    case = get_case(session=session, principal=principal, case_id=case_id)
    if case is None:
        raise NotFound.one(("path", "case_id"), "case not found", "case.not_found")
    return case


def visible_cases_query(principal: Principal):  # type: ignore[no-untyped-def]
    """The select of cases the caller may see (for reuse by listings)."""
    query = select(Case).where(Case.organisation_id == principal.organisation_id)
    if not principal.sees_all_cases:
        query = query.where(Case.assigned_to == principal.user_id)
    return query


def _holds(principal: Principal, *, state: str | None = None, platform: str | None = None) -> Any:
    """The outer query's case holds a report in ``state`` / of ``platform`` (from the report
    counts): the organisation's cases from one read of the counts, a caseworker's few by a
    probe each."""
    if principal.sees_all_cases:
        return col(Case.id).in_(
            cases_holding(organisation_id=principal.organisation_id, state=state, platform=platform)
        )
    return holds_reports(col(Case.id), state=state, platform=platform)


def _holds_overdue() -> Any:
    """The outer query's case holds a report overdue now: one probe of the index of each
    case's reports on the clock (``ix_reports_case_on_clock``, earliest deadline first) per
    case, for the count and for the page, whoever looks."""
    return (
        select(col(Report.id))
        .where(col(Report.case_id) == col(Case.id), overdue_condition(utcnow()))
        .exists()
    )


def _under_jurisdiction(code: str) -> Any:
    """The case's jurisdictions include ``code``: its quoted code in the list's JSON text,
    exact for a code of capitals, digits, "-" and "_" (quotes delimit the elements), and no
    JSON parsing of every case, on either dialect."""
    if not JURISDICTION_CODE.match(code):
        return false()
    return cast(col(Case.jurisdictions), String).contains(f'"{code}"', autoescape=True)


def _search(principal: Principal, text: str) -> Any:
    """Label contains ``text`` (any case), or ``text`` is the case's id or a platform reference."""
    matches = [col(Case.label).icontains(text, autoescape=True)]
    reference = CASE_REFERENCE.match(text)
    if reference is not None:
        case_id = int(reference.group(1))
        if case_id <= MAX_ROW_ID:
            matches.append(col(Case.id) == case_id)
    matches.append(
        col(Case.id).in_(
            select(col(Report.case_id))
            .join(Filing, col(Report.id) == col(Filing.report_id))
            .where(col(Filing.organisation_id) == principal.organisation_id)
            .where(col(Filing.external_ref) == text)
        )
    )
    return or_(*matches)


def list_cases(
    *,
    session: Session,
    principal: Principal,
    status: CaseStatus | None,
    assigned_to: int | None,
    jurisdiction: str | None,
    limit: int,
    offset: int,
    report_state: ReportState | None = None,
    platform: str | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    before_id: int | None = None,
) -> tuple[list[Case], int]:
    """Visible cases, newest first, with the total before pagination.

    ``report_state``, ``platform``: cases holding a report in that state or of that platform
    (read from the report counts, not the reports); ``overdue``: cases with (True) or without
    (False) an overdue report; ``q``: a label substring (any case), a case id ("12" or "#12")
    or a platform reference (exact); ``before_id``: only cases older than that id (keyset
    paging; the total counts every page).
    """
    _require_case_data(principal)
    query = visible_cases_query(principal)
    if status is not None:
        query = query.where(Case.status == status)
    if assigned_to is not None:
        query = query.where(Case.assigned_to == assigned_to)
    if report_state is not None:
        query = query.where(_holds(principal, state=report_state))
    if platform is not None:
        query = query.where(_holds(principal, platform=platform))
    if overdue is True:
        query = query.where(_holds_overdue())
    elif overdue is False:
        query = query.where(~_holds_overdue())
    if jurisdiction is not None:
        query = query.where(_under_jurisdiction(jurisdiction.upper()))
    text = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if text:
        query = query.where(_search(principal, text))
    # A listing shows no contact details or notes: they are not read (nor decrypted).
    query = query.options(*(defer(column) for column in SEALED_COLUMNS))
    return paginate(
        session=session,
        query=query,
        order_by=col(Case.id).desc(),
        limit=limit,
        offset=offset,
        keyset=None if before_id is None else col(Case.id) < before_id,
    )


def report_counts(*, session: Session, case_ids: list[int]) -> dict[int, int]:
    """How many reports each case holds (from the counts the database keeps)."""
    return report_totals(session=session, case_ids=case_ids)


def overdue_counts(*, session: Session, case_ids: list[int]) -> dict[int, int]:
    """How many overdue reports each case holds (cases without any are left out)."""
    if not case_ids:
        return {}
    rows = session.exec(
        select(Report.case_id, func.count())
        .where(col(Report.case_id).in_(case_ids), overdue_condition(utcnow()))
        .group_by(col(Report.case_id))
    ).all()
    return {case_id: count for case_id, count in rows}


def assignable_users(*, session: Session, organisation_id: int) -> list[User]:
    """The organisation's active people a case may be assigned to, by name."""
    return list(
        session.exec(
            select(User)
            .where(User.organisation_id == organisation_id, col(User.is_active).is_(True))
            .where(col(User.role).in_([role.value for role in ASSIGNABLE_ROLES]))
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )


def update_case(
    *, session: Session, principal: Principal, case_id: int, data: CaseUpdate
) -> tuple[Case, bool]:
    """Apply a partial update; also says whether authority to act was granted by it."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    if case.withdrawn_at is not None:
        raise Conflict.one(
            ("path", "case_id"),
            "consent was withdrawn for this case: it cannot change any more",
            "case.withdrawn",
        )
    changes = data.model_dump(exclude_unset=True)
    authority_granted = changes.get("authority_to_act") is True and not case.authority_to_act
    if "status" in changes and changes["status"] != case.status:
        # Evidence retention counts from the closing; reopening stops the count.
        case.closed_at = utcnow() if changes["status"] == CaseStatus.CLOSED else None
    if "assigned_to" in changes:
        if changes["assigned_to"] is None:
            raise Invalid.one(
                ("body", "assigned_to"), "a case must stay assigned", "case.unassigned"
            )
        case.assigned_to = _check_assignee(
            session=session, principal=principal, user_id=changes["assigned_to"]
        )
    # Anyone who may change the case may stop its exports; only a supervisor turns them back on.
    if changes.get("exports_allowed") is True and not case.exports_allowed:
        if not principal.sees_all_cases:
            raise Forbidden.one(
                ("body", "exports_allowed"),
                "only a supervisor or admin may turn exports back on",
                "case.exports_forbidden",
            )
    for field in (
        "label",
        "status",
        "authority_to_act",
        "consent_to_share_identity",
        "minor_involved",
        "exports_allowed",
    ):
        if field in changes:
            setattr(case, field, changes[field])
    if "notes" in changes:
        case.notes = seal_text(session=session, case_id=case_id, value=changes["notes"])
    if "contact" in changes:
        _apply_contact(session, case, data.contact)
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    record(
        session=session,
        actor=principal.actor,
        action="case.updated",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"fields": sorted(key for key in changes if key not in ("contact", "notes"))},
    )
    return case, authority_granted
