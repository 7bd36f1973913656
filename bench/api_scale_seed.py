"""Bulk-load the API-at-scale data set with SQL (``generate_series``) into a migrated database.

Used by ``bench.api_scale``. The statements name only columns that exist in the schema they
load (read from ``information_schema``), and every NOT NULL column without a default must be
filled by them, so an older commit's schema loads the same data and a new required column
fails loudly instead of loading something else.

The data (one organisation):

- 2,000 cases, newest last; every 100th from case 37 on is the caseworker's (20 cases), the
  rest the supervisor's; one in ten closed; one in three also under jurisdiction GB.
- 1,000,000 reports over 10 platforms and 10 states (weights below: web 30 % down to
  discord 1 %, removed 30 % down to reappeared and exhausted 4 % each). The first 700,000 come
  in bursts of 350 per case, in case order (a case's intake); the last 300,000 are spread
  over every case (URLs found later). State, platform and the case of a spread report are
  drawn independently (``hashint8extended``). Reports on the clock (filed, acknowledged:
  25 %) have a deadline: a fifth overdue by 1 to 68 hours (the old ones far more often than
  the newest), a twentieth due in 1 to 5 hours, the rest 7 hours to a week away; no deadline
  crosses "now" or "now + 6 hours" within an hour of the load, so two checkouts loaded a few
  minutes apart show the same figures.
- 500,000 checks (every other report), 1,000,000 transitions (one per report), 250,000
  filings (every fourth report).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

#: (platform, share in percent) of the reports: a few big ones and a long tail.
PLATFORMS = (
    ("web", 30),
    ("x", 15),
    ("reddit", 12),
    ("telegram", 10),
    ("instagram", 8),
    ("facebook", 7),
    ("youtube", 6),
    ("tiktok", 6),
    ("pornhub", 5),
    ("discord", 1),
)
#: (state, share in percent) of the reports.
STATES = (
    ("removed", 30),
    ("closed", 15),
    ("filed", 15),
    ("acknowledged", 10),
    ("logged", 5),
    ("awaiting_manual", 5),
    ("escalated", 5),
    ("reappeared", 4),
    ("exhausted", 4),
    ("paused", 7),
)
CASES = 2000
CASEWORKER_EVERY = 100
CASEWORKER_FIRST = 37
CHUNK = 250_000


@dataclass(frozen=True)
class Seeded:
    """What the benchmark needs to know about the data it loaded."""

    organisation_id: int
    reports: int
    first_case_id: int
    caseworker_case_id: int
    caseworker_report_id: int
    report_id: int


def _hash(seed: int, modulo: int) -> str:
    """A pseudo-random 0 .. modulo - 1 of ``n``, independent for each seed."""
    return f"abs(hashint8extended(n, {seed}) % {modulo})"


def _weighted(shares: tuple[tuple[str, int], ...], seed: int) -> str:
    """One of the values by its share in percent for report ``n``, drawn with ``seed``
    (independent of the other draws)."""
    branches, upper = [], 0
    for value, share in shares:
        upper += share
        branches.append(f"WHEN {_hash(seed, 100)} < {upper} THEN '{value}'")
    assert upper == 100
    return "CASE " + " ".join(branches) + " END"


STATE = _weighted(STATES, 1)
PLATFORM = _weighted(PLATFORMS, 2)


def _case_expression(reports: int) -> str:
    """The case of report ``n``: a burst per case, in case order, for 70 % of the reports
    (350 each at a million), then the rest spread over every case."""
    burst = max(1, reports * 7 // 10 // CASES)
    return (
        f"CAST(:first_case AS bigint) + CASE WHEN n <= {CASES * burst} "
        f"THEN (n - 1) / {burst} ELSE {_hash(5, CASES)} END"
    )


ON_CLOCK = f"({STATE}) IN ('filed', 'acknowledged')"


def _deadline_expression(reports: int) -> str:
    """Overdue for 20 % of the reports on the clock, the older ones far more often than the
    newest (just filed); due within 1 to 5 hours for 5 %; the rest 7 hours to a week away.
    Nothing crosses "now" or "now + 6 h" (the summary's "due soon") for an hour."""
    bucket, minutes = _hash(3, 1000), _hash(4, 9600)
    return (
        f"CASE WHEN NOT {ON_CLOCK} THEN NULL "
        f"WHEN {bucket} < 400 * ({reports} - n) / {reports} "
        f"THEN now() - interval '1 hour' - ({minutes} % 4000) * interval '1 minute' "
        f"WHEN {bucket} BETWEEN 400 AND 449 "
        f"THEN now() + interval '1 hour' + ({minutes} % 240) * interval '1 minute' "
        f"ELSE now() + interval '7 hours' + {minutes} * interval '1 minute' END"
    )


def _columns(engine: Engine, table: str) -> tuple[set[str], set[str]]:
    """(every column, the NOT NULL columns without a default) of ``table``."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT column_name, is_nullable = 'NO' AND column_default IS NULL "
                "FROM information_schema.columns WHERE table_name = :table"
            ),
            {"table": table},
        ).all()
    return {row[0] for row in rows}, {row[0] for row in rows if row[1]}


def _insert(engine: Engine, table: str, values: dict[str, str], source: str, **bound: int) -> None:
    """INSERT INTO ``table`` the columns of ``values`` that exist, from ``source``."""
    existing, required = _columns(engine, table)
    missing = sorted(required - set(values) - {"id"})
    if missing:
        raise SystemExit(f"{table} has NOT NULL columns the benchmark cannot fill: {missing}")
    chosen = {name: expression for name, expression in values.items() if name in existing}
    statement = (
        f"INSERT INTO {table} ({', '.join(chosen)}) "  # noqa: S608 - our own constants
        f"SELECT {', '.join(chosen.values())} {source}"
    )
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(text(statement), bound)


def _series(total: int) -> list[tuple[int, int]]:
    return [(first, min(first + CHUNK - 1, total)) for first in range(1, total + 1, CHUNK)]


SERIES = "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n"


def load(
    engine: Engine,
    *,
    organisation_id: int,
    supervisor_id: int,
    caseworker_id: int,
    reports: int = 1_000_000,
) -> Seeded:
    """Load cases, reports, checks, transitions and filings; VACUUM ANALYZE; what was loaded."""
    with engine.connect() as connection:
        policy_id = connection.execute(
            text("SELECT min(id) FROM policy_versions WHERE jurisdiction = 'IN'")
        ).scalar_one()
        first_case = connection.execute(
            text("SELECT coalesce(max(id), 0) + 1 FROM cases")
        ).scalar_one()
    if policy_id is None:
        raise SystemExit("no policy for jurisdiction IN: was `tracker db upgrade` run?")
    _insert(
        engine,
        "cases",
        {
            "organisation_id": ":organisation",
            "label": "'Case BENCH-' || lpad(CAST(n AS text), 4, '0')",
            "jurisdictions": 'CAST(CASE WHEN n % 3 = 0 THEN \'["IN", "GB"]\' '
            "ELSE '[\"IN\"]' END AS json)",
            "status": "CASE WHEN n % 10 = 0 THEN 'closed' ELSE 'open' END",
            "assigned_to": f"CASE WHEN n % {CASEWORKER_EVERY} = {CASEWORKER_FIRST} "
            "THEN :caseworker ELSE :supervisor END",
            "authority_to_act": "true",
            "consent_to_share_identity": "false",
            "minor_involved": "false",
            "exports_allowed": "true",
            "created_by": ":supervisor",
            "created_at": f"now() - ({CASES} - n) * interval '4 hours'",
            "updated_at": f"now() - ({CASES} - n) * interval '4 hours'",
            "closed_at": "CASE WHEN n % 10 = 0 THEN now() ELSE NULL END",
        },
        f"FROM generate_series(1, {CASES}) AS n",
        organisation=organisation_id,
        supervisor=supervisor_id,
        caseworker=caseworker_id,
    )
    report_values = {
        "case_id": _case_expression(reports),
        "organisation_id": ":organisation",
        "original_url": "'https://bench-' || n % 97 || '.example/v/' || n",
        "canonical_url": "'https://bench-' || n % 97 || '.example/v/' || n",
        "host": "'bench-' || n % 97 || '.example'",
        "platform": PLATFORM,
        "state": STATE,
        "policy_version_id": ":policy",
        "rung_index": "CASE WHEN n % 5 = 0 THEN 1 ELSE 0 END",
        "deadline_at": _deadline_expression(reports),
        "next_check_at": f"CASE WHEN ({STATE}) = 'closed' THEN NULL "
        "ELSE now() + (n % 86400) * interval '1 second' END",
        "consecutive_removed": f"CASE WHEN ({STATE}) = 'removed' THEN 2 ELSE 0 END",
        "watch_step": "0",
        "last_verdict": f"CASE WHEN ({STATE}) IN ('removed', 'closed') THEN 'removed' "
        "ELSE 'live' END",
        "last_checked_at": "now() - (n % 86400) * interval '1 second'",
        "created_at": f"now() - ({reports} - n) * interval '30 seconds'",
        "updated_at": f"now() - ({reports} - n) * interval '30 seconds'",
    }
    for first, last in _series(reports):
        _insert(
            engine,
            "reports",
            report_values,
            SERIES,
            first=first,
            last=last,
            first_case=first_case,
            organisation=organisation_id,
            policy=policy_id,
        )
    _insert(
        engine,
        "checks",
        {
            "report_id": "2 * n - 1",
            "checked_at": "now() - (n % 86400) * interval '1 second'",
            "http_status": "200",
            "verdict": "CASE WHEN n % 3 = 0 THEN 'removed' ELSE 'live' END",
            "reason": "'bench'",
            "latency_ms": "40 + n % 50",
            "matches": "0",
        },
        SERIES,
        first=1,
        last=reports // 2,
    )
    for first, last in _series(reports):
        _insert(
            engine,
            "report_transitions",
            {
                "report_id": "n",
                "from_state": "''",
                "to_state": "'logged'",
                "rung_index": "0",
                "cause": "'URL logged'",
                "actor": "'user:' || :supervisor",
                "at": f"now() - ({reports} - n) * interval '30 seconds'",
            },
            SERIES,
            first=first,
            last=last,
            supervisor=supervisor_id,
        )
    _insert(
        engine,
        "filings",
        {
            "report_id": "4 * n - 3",
            "organisation_id": ":organisation",
            "rung_index": "0",
            "rung_target": "'platform'",
            "track": "'ladder'",
            "adapter": "'manual'",
            "channel_kind": "'webform'",
            "status": "'submitted'",
            "attempt_count": "1",
            "idempotency_key": "'bench-' || n",
            "external_ref": "'BENCH-REF-' || n",
            "submitted_at": "now() - interval '2 days'",
            "deadline_at": "now() + interval '2 days'",
            "created_at": "now() - interval '2 days'",
            "updated_at": "now() - interval '2 days'",
        },
        SERIES,
        first=1,
        last=reports // 4,
        organisation=organisation_id,
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        caseworker_case = first_case + CASES - CASEWORKER_EVERY + CASEWORKER_FIRST - 1
        caseworker_report = connection.execute(
            text("SELECT max(id) FROM reports WHERE case_id = :case AND id % 4 = 1"),
            {"case": caseworker_case},
        ).scalar_one()
    return Seeded(
        organisation_id=organisation_id,
        reports=reports,
        first_case_id=first_case,
        caseworker_case_id=caseworker_case,
        caseworker_report_id=int(caseworker_report),
        report_id=reports // 2 + 1,
    )
