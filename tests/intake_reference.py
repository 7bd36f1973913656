"""The intake as it was before it was batched (commit 38b7ec3), kept as the reference the
batched intake must equal: one report, one transition and one filing at a time, through the ORM.

Only what it calls changed names: the transition is added as the old per-report
``record_logged`` did, and the filing opened by ``open_filing`` (the ORM path parallel tracks
still take), as the old ``file_or_hold`` did.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.channels import directory
from tracker.db import utcnow
from tracker.errors import Invalid, Problem
from tracker.filings.opening import open_filing
from tracker.organisations.service import Principal
from tracker.policies.service import policy_for_case
from tracker.reports.holds import HoldReason, hold_message
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report, ReportTransition
from tracker.reports.schemas import IntakeResult
from tracker.reports.urls import UrlRejected, canonicalise, check_fetchable
from tracker.settings import get_settings


def add_urls_one_by_one(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    urls: list[str],
    allow_partial: bool,
    preview: bool = False,
) -> list[IntakeResult]:
    """The old ``add_urls``: the same answers, each report written on its own."""
    case = session.get(Case, case_id)
    assert case is not None
    results, hosts = _classify(session, case, urls)
    rejected = [result for result in results if result.outcome == "rejected"]
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
    created = [result for result in results if result.outcome == "created"]
    policy = policy_for_case(
        session=session,
        jurisdictions=case.jurisdictions,
        on=date.today(),
        minor_involved=case.minor_involved,
    )
    if preview:
        for result in created:
            _explain(result, None if case.authority_to_act else HoldReason.NO_AUTHORITY_TO_ACT)
        return results
    now = utcnow()
    for result in created:
        assert case.id is not None and policy.id is not None and result.canonical_url
        report = Report(
            case_id=case.id,
            organisation_id=case.organisation_id,
            original_url=result.url,
            canonical_url=result.canonical_url,
            host=hosts[result.canonical_url],
            platform=result.platform or "web",
            policy_version_id=policy.id,
            next_check_at=now,
        )
        session.add(report)
        session.flush()
        assert report.id is not None
        session.add(
            ReportTransition(
                report_id=report.id,
                from_state="",
                to_state=ReportState.LOGGED,
                rung_index=report.rung_index,
                cause="URL logged",
                actor=principal.actor,
            )
        )
        result.report_id = report.id
        if case.authority_to_act:
            open_filing(session=session, report=report)
        else:
            report.hold_reason = HoldReason.NO_AUTHORITY_TO_ACT
            session.add(report)
            session.flush()
        _explain(result, report.hold_reason)
    record(
        session=session,
        actor=principal.actor,
        action="reports.added",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"created": len(created), "rejected": len(rejected)},
    )
    return results


def _classify(
    session: Session, case: Case, urls: list[str]
) -> tuple[list[IntakeResult], dict[str, str]]:
    results: list[IntakeResult] = []
    accepted: dict[str, IntakeResult] = {}
    hosts: dict[str, str] = {}
    allowlist = tuple(get_settings().outbound_allowlist)
    for index, raw in enumerate(urls):
        try:
            canonical = canonicalise(raw)
            check_fetchable(canonical.host, allowlist=allowlist)
        except UrlRejected as rejection:
            results.append(
                IntakeResult(
                    index=index,
                    url=raw[:200],
                    outcome="rejected",
                    reason=rejection.message,
                    reason_type=rejection.code,
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
            platform=directory().platform_for_host(canonical.host),
        )
        accepted[canonical.canonical] = result
        hosts[canonical.canonical] = canonical.host
        results.append(result)
    existing = {
        url: (report_id, hold_reason)
        for url, report_id, hold_reason in session.exec(
            select(Report.canonical_url, Report.id, Report.hold_reason)
            .where(Report.case_id == case.id)
            .where(col(Report.canonical_url).in_(list(accepted)))
        ).all()
    }
    for canonical_url, result in accepted.items():
        if canonical_url in existing:
            result.outcome = "duplicate"
            result.report_id, hold_reason = existing[canonical_url]
            result.reason = "already logged in this case"
            _explain(result, hold_reason)
    return results, hosts


def _explain(result: IntakeResult, hold_reason: str | None) -> None:
    if hold_reason is not None:
        result.hold_reason = HoldReason(hold_reason)
        result.hold_message = hold_message(hold_reason)
