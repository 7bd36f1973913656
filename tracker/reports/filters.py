"""What a listing of reports selects, built once for every reader of it: the API's and the
console's pages, the streamed export and the command line's export.

A ``ReportFilter`` is the organisation, the cases in scope (None: all of the organisation's),
and the state, platform and overdue filters, normalised: overdue is decided at one moment
(``now``) for every row read, and a combination that can match nothing says so
(``matches_nothing``) instead of reaching the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col

from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState
from tracker.reports.models import Report
from tracker.reports.rollups import count_reports, not_overdue_condition, overdue_condition


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """The reports a listing selects; ``case_ids`` None: all of the organisation's."""

    organisation_id: int
    case_ids: list[int] | None
    state: ReportState | None
    platform: str | None
    overdue: bool | None
    now: datetime
    matches_nothing: bool = False

    @property
    def conditions(self) -> list[Any]:
        """The state, platform and overdue conditions (the scope is ``where``'s)."""
        conditions: list[Any] = []
        if self.state is not None:
            conditions.append(Report.state == self.state)
        if self.platform is not None:
            conditions.append(Report.platform == self.platform)
        if self.overdue is True:
            conditions.append(overdue_condition(self.now))
        elif self.overdue is False:
            conditions.append(not_overdue_condition(self.now))
        return conditions

    @property
    def from_clock_index(self) -> bool:
        """Every match is in the partial index of the reports on the clock."""
        return self.overdue is True

    def where(self) -> list[Any]:
        """The whole condition: the scope, then ``conditions``. Cases in scope are named alone
        (all of the organisation's), so the planner reads each case's own index."""
        scope: Any
        if self.case_ids is None:
            scope = Report.organisation_id == self.organisation_id
        else:
            scope = col(Report.case_id).in_(self.case_ids)
        return [scope, *self.conditions]

    def count(self, *, session: Session) -> int:
        """How many reports match, exactly (from the counts the database keeps)."""
        if self.matches_nothing:
            return 0
        return count_reports(
            session=session,
            organisation_id=self.organisation_id,
            now=self.now,
            case_ids=self.case_ids,
            state=self.state,
            platform=self.platform,
            overdue=self.overdue,
        )


def report_filter(
    *,
    organisation_id: int,
    case_ids: list[int] | None,
    state: ReportState | None,
    platform: str | None,
    overdue: bool | None,
    now: datetime,
) -> ReportFilter:
    """The filter of these parameters; ``case_ids`` must be cases of the organisation (an
    empty list: the caller may see none of the cases asked for)."""
    matches_nothing = case_ids == []
    if overdue is not None and state is not None and state not in ON_THE_CLOCK:
        if overdue:
            matches_nothing = True  # a report off the clock is never overdue
        overdue = None  # ... so "not overdue" is every report in that state
    return ReportFilter(
        organisation_id=organisation_id,
        case_ids=case_ids,
        state=state,
        platform=platform,
        overdue=overdue,
        now=now,
        matches_nothing=matches_nothing,
    )
