"""What the report counts say, and what a recount of the rows says, for the rollup tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, text
from sqlmodel import select

from tracker.reports.models import Report
from tracker.reports.rollups import counted_rows, report_totals


def organisation_of(db: Any) -> int:
    with db.transaction() as session:
        return int(session.execute(text("SELECT min(id) FROM organisations")).scalar_one())


def recount(db: Any) -> tuple[Counter[tuple[str, str]], Counter[tuple[int, str, str]]]:
    """What the counts must say, counted from the rows."""
    with db.transaction() as session:
        rows = session.exec(select(Report.case_id, Report.state, Report.platform)).all()
    by_key = Counter((str(state), platform) for _, state, platform in rows)
    by_case = Counter((case_id, str(state), platform) for case_id, state, platform in rows)
    return by_key, by_case


def kept(db: Any, organisation_id: int) -> tuple[Counter[Any], Counter[Any]]:
    """What the counts say (count rows and pending deltas), without the zero entries."""
    with db.transaction() as session:
        rows = counted_rows(organisation_id=organisation_id)
        by_key = Counter(
            {
                (state, platform): int(total)
                for state, platform, total in session.execute(
                    select(rows.c.state, rows.c.platform, func.sum(rows.c.n)).group_by(
                        rows.c.state, rows.c.platform
                    )
                ).all()
                if total
            }
        )
        case_ids = [int(value) for value in session.execute(text("SELECT id FROM cases")).scalars()]
        cases = counted_rows(organisation_id=organisation_id, case_ids=case_ids)
        by_case = Counter(
            {
                (case_id, state, platform): int(total)
                for case_id, state, platform, total in session.execute(
                    select(
                        cases.c.case_id, cases.c.state, cases.c.platform, func.sum(cases.c.n)
                    ).group_by(cases.c.case_id, cases.c.state, cases.c.platform)
                ).all()
                if total
            }
        )
    return by_key, by_case


def assert_counts_exact(db: Any, organisation_id: int) -> None:
    expected_keys, expected_cases = recount(db)
    actual_keys, actual_cases = kept(db, organisation_id)
    assert actual_keys == expected_keys
    assert actual_cases == expected_cases
    with db.transaction() as session:
        case_ids = sorted({case_id for case_id, _, _ in expected_cases})
        totals = report_totals(session=session, case_ids=case_ids)
    per_case: Counter[int] = Counter()
    for (case_id, _, _), count in expected_cases.items():
        per_case[case_id] += count
    assert totals == dict(per_case)
