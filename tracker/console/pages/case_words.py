"""Words and small view helpers shared by the queue and case pages (not a router).

The phrases are marked ``N_`` and translated where they are shown, like ``tracker.console.words``.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from tracker.cases.service import assignable_users
from tracker.channels import directory
from tracker.console.context import Console
from tracker.console.i18n import N_, translations
from tracker.organisations.models import User
from tracker.policies.models import PolicyVersion
from tracker.policies.service import as_policy
from tracker.reports.lifecycle import PAUSABLE, ReportState
from tracker.reports.models import Report
from tracker.reports.queue import DUE_SOON
from tracker.reports.service import is_overdue

RUNG_TARGETS = {
    "platform": N_("The platform"),
    "grievance_officer": N_("The platform's grievance officer"),
    "host": N_("The hosting company"),
    "cdn": N_("The CDN (content delivery network)"),
    "registrar": N_("The domain registrar"),
    "search": N_("Search engines (delisting)"),
    "regulator": N_("The regulator"),
    "ncmec": N_("NCMEC (CyberTipline, Take It Down)"),
    "iwf": N_("The Internet Watch Foundation"),
    "ncrp_child": N_("India's cybercrime portal, child category"),
}
ALERT_KINDS = {
    "channel.failing": N_("Filings on this channel keep failing"),
    "adapter.missing_credentials": N_("This channel has no credentials"),
    "adapter.invalid_credentials": N_("The platform refused this channel's credentials"),
    "filing.attempts_exhausted": N_("A filing on this channel used up its attempts"),
}
OTHER_WEBSITE = N_("Other website")


def gettext_for(language: str) -> Callable[[str], str]:
    """The gettext of a language, for the phrases above."""
    translate: gettext.NullTranslations = translations(language)
    return translate.gettext


class Phrases:
    """The phrases of this module in one language, for templates."""

    def __init__(self, language: str) -> None:
        self._ = gettext_for(language)

    def rung_target(self, code: str | None) -> str:
        """The rung target in words ("—" past the end of the ladder)."""
        if code is None:
            return "—"
        return self._(RUNG_TARGETS[code]) if code in RUNG_TARGETS else code.replace("_", " ")

    def alert_kind(self, code: str) -> str:
        """What a channel alert means."""
        return self._(ALERT_KINDS[code]) if code in ALERT_KINDS else code

    def platform(self, slug: str) -> str:
        """A platform's name from the directory ("Other website" for an unknown host)."""
        entry = directory().platforms.get(slug)
        if entry is not None:
            return entry.name
        return self._(OTHER_WEBSITE) if slug == "web" else slug

    def channel(self, subject: str) -> str:
        """The channel an alert names ("adapter:reddit" -> "reddit")."""
        return subject.removeprefix("adapter:")


def assignees_for(session: Session, console: Console) -> list[User]:
    """Who a supervisor may give a case to ([] for a caseworker: their cases are their own)."""
    if not console.is_supervisor:
        return []
    return assignable_users(session=session, organisation_id=console.principal.organisation_id)


def platform_choices() -> list[tuple[str, str]]:
    """(slug, name) of every platform the directory knows, by name."""
    return sorted(
        ((slug, entry.name) for slug, entry in directory().platforms.items()),
        key=lambda item: item[1].lower(),
    )


class RungTargets:
    """The target of a report's current rung, each policy version read once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._targets: dict[int, list[str]] = {}

    def __call__(self, report: Report) -> str | None:
        version = report.policy_version_id
        if version not in self._targets:
            row = self._session.get(PolicyVersion, version)
            assert row is not None
            self._targets[version] = [rung.target for rung in as_policy(row).rungs]
        targets = self._targets[version]
        return targets[report.rung_index] if report.rung_index < len(targets) else None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One report as a row of a table: the report and what the row shows about it."""

    report: Report
    rung_target: str | None
    is_overdue: bool
    is_due_soon: bool

    @property
    def is_pausable(self) -> bool:
        return self.report.state in PAUSABLE

    @property
    def is_paused(self) -> bool:
        return self.report.state == ReportState.PAUSED

    @property
    def is_closed(self) -> bool:
        return self.report.state == ReportState.CLOSED


def report_rows(session: Session, reports: list[Report], now: datetime) -> list[ReportRow]:
    """Table rows for reports: rung target, overdue or due within 24 hours."""
    targets = RungTargets(session)
    soon = now + DUE_SOON
    return [
        ReportRow(
            report=report,
            rung_target=targets(report),
            is_overdue=is_overdue(report),
            is_due_soon=(
                not is_overdue(report)
                and report.deadline_at is not None
                and report.deadline_at <= soon
            ),
        )
        for report in reports
    ]
