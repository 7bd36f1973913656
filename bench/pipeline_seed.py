"""Seed a tracker database for the end-to-end benchmark: run as a script by ``bench.pipeline``,
with the measured checkout's ``tracker`` first on the path, so an older commit seeds its own
schema.

    python bench/pipeline_seed.py URLS_FILE     (TRACKER_DATABASE_URL etc. in the environment)

Migrates the database, records one organisation, one case and the policy in force, then
bulk-inserts one report per URL in state ``filed`` (platform ``web``, deadline two days away)
with its next check far in the future: the benchmark makes them all due at once when its clock
starts. Prints the number of reports inserted.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

#: Not due until the benchmark says so.
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
ROWS_PER_INSERT = 5000


def main() -> None:
    from sqlalchemy import MetaData, Table, insert

    from tracker.cases.models import Case
    from tracker.organisations.service import get_or_create_organisation
    from tracker.policies.service import policy_in_force
    from tracker.runtime import open_database
    from tracker.settings import get_settings

    urls = Path(sys.argv[1]).read_text().split()
    database = open_database(get_settings(), upgrade=True)
    with database.transaction() as session:
        organisation = get_or_create_organisation(
            session=session, name="Benchmark helpline", contact_email="bench@helpline.example"
        )
        case = Case(
            organisation_id=organisation.id,
            label="Case BENCH-FAKE",
            jurisdictions=["IN"],
            authority_to_act=True,
        )
        session.add(case)
        session.flush()
        policy = policy_in_force(session=session, jurisdiction="IN", on=date.today())
        ids = (int(organisation.id), int(case.id), int(policy.id))  # type: ignore[arg-type]
    organisation_id, case_id, policy_id = ids
    now = datetime.now(UTC)
    reports = Table("reports", MetaData(), autoload_with=database.engine)
    values = {
        "case_id": case_id,
        "organisation_id": organisation_id,
        "platform": "web",
        "state": "filed",
        "policy_version_id": policy_id,
        "rung_index": 0,
        "consecutive_removed": 0,
        "watch_step": 0,
        "deadline_at": now + timedelta(days=2),
        "next_check_at": FAR_FUTURE,
        "created_at": now,
        "updated_at": now,
    }
    missing = [
        column.name
        for column in reports.columns
        if not column.nullable
        and not column.primary_key
        and column.server_default is None
        and column.name not in values
        and column.name not in ("original_url", "canonical_url", "host")
    ]
    if missing:
        raise SystemExit(f"reports has NOT NULL columns the seed cannot fill: {missing}")
    rows = [
        {
            **values,
            "original_url": url,
            "canonical_url": url,
            "host": urlsplit(url).hostname or "",
        }
        for url in urls
    ]
    with database.engine.begin() as connection:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            connection.execute(insert(reports), rows[start : start + ROWS_PER_INSERT])
    _rebuild_rollups(database)
    print(len(rows))


def _rebuild_rollups(database: object) -> None:
    """Recount what a checkout keeps counted (none before the rollups existed)."""
    try:
        from tracker.reports.rollups import rebuild_rollups  # type: ignore[import-not-found]
    except ImportError:
        return
    with database.transaction() as session:  # type: ignore[attr-defined]
        rebuild_rollups(session=session)


if __name__ == "__main__":
    main()
