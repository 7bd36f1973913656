"""Intake: logging many URLs into a case at once, checked, deduplicated, then filed or held.

However many URLs come (up to ``MAX_URLS``), an intake costs a fixed handful of statements:
every URL is canonicalised and checked in memory, the case's reports among them are found in
one SELECT, the new reports go in one INSERT (their ids come back in order, by RETURNING), their
first transitions in one more, their filings in one more (``file_or_hold_many``), then one audit
event. The reports are plain INSERTed rows, so database triggers see each of them as they would
one at a time. Everything happens in the caller's transaction: a failure anywhere leaves nothing
written, and the filings' jobs are sent only once it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from tracker.audit.service import record
from tracker.bulk import among, insert_returning
from tracker.cases.models import Case, CaseStatus
from tracker.cases.service import require_case
from tracker.channels import directory
from tracker.db import utcnow
from tracker.errors import Conflict, Invalid, Problem
from tracker.filings.opening import file_or_hold_many, hold_reason_for
from tracker.organisations.service import Principal
from tracker.policies.service import policy_for_case
from tracker.reports.holds import HoldReason, hold_message
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.schemas import IntakeResult
from tracker.reports.transitions import record_logged
from tracker.reports.urls import CanonicalUrl, UrlRejected, canonicalise, check_fetchable
from tracker.settings import get_settings

_reports: Table = Report.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LoggedReport:
    """A report an intake has just inserted, as ``file_or_hold_many`` reads it."""

    id: int
    organisation_id: int
    platform: str
    policy_version_id: int
    rung_index: int
    hold_reason: str | None


def add_urls(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    urls: list[str],
    allow_partial: bool,
    preview: bool = False,
) -> list[IntakeResult]:
    """Log URLs into a case: created, duplicate or rejected per URL; all-or-nothing by default.

    With ``preview``, answer exactly what would happen and write nothing: no report, no
    transition, no filing, no audit event (created results then have no ``report_id``).
    """
    case = require_case(session=session, principal=principal, case_id=case_id)
    if case.status == CaseStatus.CLOSED:
        raise Conflict.one(("path", "case_id"), "the case is closed", "case.closed")
    intake = _classify(session=session, case=case, urls=urls)
    rejected = [result for result in intake.results if result.outcome == "rejected"]
    if rejected and not allow_partial:
        raise Invalid(
            [
                Problem(
                    loc=("body", "urls", result.index),
                    msg=result.reason or "",
                    type=result.reason_type or "url.invalid",
                )
                for result in rejected
            ]
        )
    created = [result for result in intake.results if result.outcome == "created"]
    policy = policy_for_case(
        session=session,
        jurisdictions=case.jurisdictions,
        on=date.today(),
        minor_involved=case.minor_involved,
    )
    hold = would_hold(case)
    if preview:
        for result in created:
            _explain_hold(result, hold)
        return intake.results
    assert case.id is not None and policy.id is not None
    if created:
        now = utcnow()
        report_ids = _insert_reports(
            session=session,
            case=case,
            policy_version_id=policy.id,
            created=created,
            hosts=intake.hosts,
            hold=hold,
            now=now,
        )
        record_logged(session=session, report_ids=report_ids, actor=principal.actor, at=now)
        logged = [
            LoggedReport(
                id=report_id,
                organisation_id=case.organisation_id,
                platform=result.platform or "web",
                policy_version_id=policy.id,
                rung_index=0,
                hold_reason=hold,
            )
            for result, report_id in zip(created, report_ids, strict=True)
        ]
        file_or_hold_many(session=session, case=case, reports=logged)
        for result, report_id in zip(created, report_ids, strict=True):
            result.report_id = report_id
            _explain_hold(result, hold)
    record(
        session=session,
        actor=principal.actor,
        action="reports.added",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"created": len(created), "rejected": len(rejected)},
    )
    return intake.results


def _insert_reports(
    *,
    session: Session,
    case: Case,
    policy_version_id: int,
    created: list[IntakeResult],
    hosts: dict[str, str],
    hold: HoldReason | None,
    now: datetime,
) -> list[int]:
    """Insert a report for each created result in one statement; their ids, in order.

    Each row is inserted with its hold reason already set (``file_or_hold_many`` then has
    nothing to change): the same row as logging it and then holding it.
    """
    try:
        inserted = insert_returning(
            session=session,
            table=_reports,
            varying=[
                {
                    "original_url": result.url,
                    "canonical_url": result.canonical_url,
                    "host": hosts[result.canonical_url or ""],
                    "platform": result.platform or "web",
                }
                for result in created
            ],
            constant={
                "case_id": case.id,
                "organisation_id": case.organisation_id,
                "state": ReportState.LOGGED,
                "policy_version_id": policy_version_id,
                "rung_index": 0,
                "next_check_at": now,  # a first check establishes whether the content is live
                "hold_reason": hold,
                "created_at": now,
                "updated_at": now,
            },
            returning=("canonical_url", "id"),
        )
    except IntegrityError as error:
        # The duplicate search ran before another request logged some of the same URLs in
        # this case (a double submission): the unique constraint refused them.
        raise Conflict.one(
            ("body", "urls"),
            "some of these URLs were logged in this case by another request at the same time; "
            "nothing was added, send them again",
            "report.logged_concurrently",
        ) from error
    # Canonical URLs are unique in the case.
    ids: dict[str, int] = {canonical_url: report_id for canonical_url, report_id in inserted}
    return [ids[result.canonical_url or ""] for result in created]


@dataclass
class _Intake:
    """Every URL classified (``results``, in order) and the host of each new canonical URL."""

    results: list[IntakeResult]
    hosts: dict[str, str]


class _Checker:
    """Canonicalise and check URLs; what depends only on the host is decided once per host."""

    def __init__(self) -> None:
        self._allowlist = tuple(get_settings().outbound_allowlist)
        self._directory = directory()
        self._refusals: dict[str, UrlRejected | None] = {}
        self._platforms: dict[str, str] = {}

    def check(self, raw: str) -> CanonicalUrl | UrlRejected:
        """The canonical URL, or why it cannot be logged."""
        try:
            canonical = canonicalise(raw)
        except UrlRejected as rejection:
            return rejection
        host = canonical.host
        if host not in self._refusals:
            try:
                check_fetchable(host, allowlist=self._allowlist)
                self._refusals[host] = None
            except UrlRejected as rejection:
                self._refusals[host] = rejection
        return self._refusals[host] or canonical

    def platform(self, host: str) -> str:
        """The platform of a canonical host."""
        if host not in self._platforms:
            self._platforms[host] = self._directory.platform_for_host(host)
        return self._platforms[host]


def _classify(*, session: Session, case: Case, urls: list[str]) -> _Intake:
    """Canonicalise, check and deduplicate each URL (in the request and in the case); no writes."""
    results: list[IntakeResult] = []
    accepted: dict[str, IntakeResult] = {}
    hosts: dict[str, str] = {}
    checker = _Checker()
    for index, raw in enumerate(urls):
        canonical = checker.check(raw)
        if isinstance(canonical, UrlRejected):
            results.append(
                IntakeResult(
                    index=index,
                    url=raw[:200],
                    outcome="rejected",
                    reason=canonical.message,
                    reason_type=canonical.code,
                )
            )
            continue
        if canonical.canonical in accepted:
            first = accepted[canonical.canonical]
            results.append(
                IntakeResult(
                    index=index,
                    url=raw,
                    outcome="duplicate",
                    canonical_url=canonical.canonical,
                    platform=first.platform,
                    reason=f"same URL as entry {first.index}",
                    duplicate_of=first.index,
                )
            )
            continue
        result = IntakeResult(
            index=index,
            url=raw,
            outcome="created",
            canonical_url=canonical.canonical,
            platform=checker.platform(canonical.host),
        )
        accepted[canonical.canonical] = result
        hosts[canonical.canonical] = canonical.host
        results.append(result)
    if accepted:
        # One query, however many URLs: (case_id, canonical_url) is the unique index.
        existing = session.exec(
            select(Report.canonical_url, Report.id, Report.hold_reason)
            .where(Report.case_id == case.id)
            .where(among(session=session, column=_reports.c.canonical_url, values=list(accepted)))
        ).all()
        for canonical_url, report_id, hold_reason in existing:
            result = accepted[canonical_url]
            result.outcome = "duplicate"
            result.report_id = report_id
            result.reason = "already logged in this case"
            _explain_hold(result, hold_reason)
    return _Intake(results=results, hosts=hosts)


def would_hold(case: Case) -> HoldReason | None:
    """Why a new report of this case would be held rather than filed (as ``file_or_hold``)."""
    return hold_reason_for(case)


def _explain_hold(result: IntakeResult, hold_reason: str | None) -> None:
    """Say on an intake result why its report is not filed, if it is held."""
    if hold_reason is not None:
        result.hold_reason = HoldReason(hold_reason)
        result.hold_message = hold_message(hold_reason)
