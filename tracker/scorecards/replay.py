"""Outcomes rebuilt from the history a database already holds (the migration that adds
scorecards, and repairs): each report's transitions and ladder filings, replayed in time
order through the same rules as the live events (``apply_move``, ``apply_filing``)."""

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, text

from tracker.db import UTCDateTime
from tracker.policies.schema import Policy
from tracker.reports.lifecycle import ReportState
from tracker.scorecards.models import ReportOutcome
from tracker.scorecards.outcomes import Outcome, apply_filing, apply_move, reason_of
from tracker.scorecards.rollup import recount_scorecards

#: Reports replayed per round trip.
CHUNK = 5_000
_REJECTED = " rejected the report"
_REFUSED = " refused the filing"


_UTC = UTCDateTime()


def _as_datetime(value: Any) -> datetime:
    """A timestamp column read as a plain row, as the model reads it (aware UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    converted = _UTC.process_result_value(value, None)  # type: ignore[arg-type]
    assert converted is not None
    return converted


def _legal_bases(connection: Connection) -> dict[tuple[int, int], tuple[str, str]]:
    """(policy version, rung index) -> the rung's target and legal basis. A version whose
    document no longer reads as a policy names none (its reports count with an empty basis):
    a migration must not stop on old data."""
    bases: dict[tuple[int, int], tuple[str, str]] = {}
    for version_id, document in connection.execute(
        text("SELECT id, document FROM policy_versions")
    ):
        try:
            loaded = (
                Policy.model_validate_json(document)
                if isinstance(document, str)
                else Policy.model_validate(document)
            )
        except ValidationError:
            continue
        for index, rung in enumerate(loaded.rungs):
            bases[(int(version_id), index)] = (rung.target, rung.legal_basis)
    return bases


def replay_outcomes(connection: Connection) -> int:
    """Rebuild every outcome and then every cell; how many reports have an outcome."""
    connection.execute(text("DELETE FROM report_outcomes"))
    bases = _legal_bases(connection)
    written = 0
    last_id = 0
    while True:
        reports = connection.execute(
            text(
                "SELECT id, organisation_id, platform, policy_version_id FROM reports "
                "WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last_id, "n": CHUNK},
        ).all()
        if not reports:
            break
        first, last_id = reports[0][0], reports[-1][0]
        window = {"first": first, "last": last_id}
        events: dict[int, list[tuple[datetime, int, str, Any]]] = defaultdict(list)
        for report_id, from_state, to_state, cause, at, rung_index in connection.execute(
            text(
                "SELECT report_id, from_state, to_state, cause, at, rung_index "
                "FROM report_transitions "
                "WHERE report_id BETWEEN :first AND :last ORDER BY id"
            ),
            window,
        ):
            events[report_id].append(
                (_as_datetime(at), 1, "move", (from_state, to_state, cause, rung_index))
            )
        for row in connection.execute(
            text(
                "SELECT report_id, submitted_at, deadline_at, channel_kind, rung_target, "
                "rung_index FROM filings WHERE track = 'ladder' AND submitted_at IS NOT NULL "
                "AND report_id BETWEEN :first AND :last"
            ),
            window,
        ):
            events[row[0]].append((_as_datetime(row[1]), 0, "filing", row))
        rows = []
        for report_id, organisation_id, platform, policy_version_id in reports:
            outcome = _replay_one(
                report_id, organisation_id, platform, policy_version_id, events[report_id], bases
            )
            if outcome is not None:
                rows.append(outcome.values())
        if rows:
            connection.execute(insert(ReportOutcome.__table__), rows)  # type: ignore[attr-defined]
            written += len(rows)
    recount_scorecards(connection)
    return written


def _replay_one(
    report_id: int,
    organisation_id: int,
    platform: str,
    policy_version_id: int,
    events: list[tuple[datetime, int, str, Any]],
    bases: dict[tuple[int, int], tuple[str, str]],
) -> Outcome | None:
    outcome = Outcome(report_id=report_id, organisation_id=organisation_id, platform=platform)
    deadline: datetime | None = None
    touched = False
    for at, _, kind, detail in sorted(events, key=lambda event: (event[0], event[1])):
        if kind == "filing":
            _, _, deadline_at, channel, rung, rung_index = detail
            deadline = _as_datetime(deadline_at) if deadline_at is not None else None
            apply_filing(
                outcome,
                platform=platform,
                channel=channel,
                rung=rung,
                rung_index=rung_index,
                legal_basis=bases.get((policy_version_id, rung_index), ("", ""))[1],
                submitted_at=at,
            )
            touched = True
            continue
        from_state, to_state, cause, rung_index = detail
        if not from_state:
            continue  # the first line of a timeline: logged
        if to_state == ReportState.ESCALATED and outcome.first_filed_at is not None:
            if _REFUSED in cause:
                outcome.rejected_reason = reason_of(None, refused=True)
            elif _REJECTED in cause:
                outcome.rejected_reason = reason_of(cause.partition(": ")[2] or None)
        apply_move(
            outcome,
            from_state=ReportState(from_state),
            to_state=ReportState(to_state),
            at=at,
            deadline_before=deadline,
            paused_remaining_before=1.0 if deadline is not None and at <= deadline else 0.0,
        )
        if to_state == ReportState.ESCALATED and (policy_version_id, rung_index) in bases:
            outcome.rung, outcome.legal_basis = bases[(policy_version_id, rung_index)]
        touched = touched or outcome.waiting_since is not None
    return outcome if touched else None
