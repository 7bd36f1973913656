"""The report listing as a file (GET /api/v1/reports/export): exactly the listing's rows for
every filter, CSV and JSON lines that parse back, no spreadsheet formula in a cell, only a
supervisor's or admin's and only of their organisation, a 422 naming a bad parameter, and a
stream that reads in chunks and holds one of them at a time whatever the size."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tracemalloc
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import new_case
from sqlalchemy import bindparam, event, text
from sqlmodel import select

from tracker.audit.models import AuditEvent
from tracker.cases.models import Case
from tracker.db import UTCDateTime, utcnow
from tracker.organisations.models import Role
from tracker.reports.export import COLUMNS, ExportFormat, csv_cell, export_reports, report_chunks
from tracker.reports.filters import report_filter
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState

URLS = [
    "https://x.com/fakeuser/status/{n}",
    "https://reddit.com/r/fakesub/comments/{n}/fake",
    "https://youtube.com/watch?v=FAKE{n:07d}",
    "https://fake-{n}.example/leak",
]
#: States given in turn, by report id (``logged`` stays as intake left it).
STATES = [
    ReportState.LOGGED,
    ReportState.FILED,
    ReportState.ACKNOWLEDGED,
    ReportState.REMOVED,
    ReportState.CLOSED,
    ReportState.AWAITING_MANUAL,
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"state": "filed"},
    {"platform": "x"},
    {"platform": "web", "state": "logged"},
    {"overdue": True},
    {"overdue": False},
    {"overdue": True, "state": "acknowledged"},
    {"overdue": True, "state": "closed"},  # off the clock: never overdue, nothing
    {"overdue": False, "state": "closed"},
    {"platform": "no-such-platform"},
]


def add_reports(client: Any, people: Any, case_id: int, numbers: range, who: str) -> None:
    urls = [URLS[n % len(URLS)].format(n=n) for n in numbers]
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == len(urls)


def spread(db: Any) -> None:
    """States in turn by id; deadlines overdue, later or none (on the clock or off it)."""
    now = utcnow()
    with db.engine.begin() as connection:
        for index, state in enumerate(STATES):
            connection.execute(
                text("UPDATE reports SET state = :state WHERE id % :n = :remainder"),
                {"state": state.value, "n": len(STATES), "remainder": index},
            )
        connection.execute(text("UPDATE reports SET deadline_at = NULL"))
        update = text("UPDATE reports SET deadline_at = :at WHERE id % 5 = :remainder")
        update = update.bindparams(bindparam("at", type_=UTCDateTime()))
        for remainder, delta in enumerate((timedelta(hours=-3), timedelta(days=2))):
            connection.execute(update, {"at": now + delta, "remainder": remainder})


@pytest.fixture
def world(client: Any, people: Any, db: Any) -> dict[str, Any]:
    """Cases of two caseworkers and a supervisor in the helpline, and one of the other
    organisation's, with reports in many states on four platforms."""
    cases = {
        "alice": new_case(client, people),
        "alice_2": new_case(client, people),
        "bob": new_case(client, people, who="bob"),
        "supervisor": new_case(client, people, who="supervisor", authority_to_act=False),
        "outsider": new_case(client, people, who="outsider"),
    }
    for number, (name, case_id) in enumerate(cases.items()):
        who = name.split("_")[0]
        add_reports(client, people, case_id, range(number * 100, number * 100 + 15), who)
    spread(db)
    return cases


def listing_items(client: Any, who: Any, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of GET /api/v1/reports for the filters, paged through by key."""
    items: list[dict[str, Any]] = []
    before: int | None = None
    total = None
    while True:
        params = {**filters, "limit": 7, **({"before_id": before} if before else {})}
        page = client.get("/api/v1/reports", params=params, headers=who)
        assert page.status_code == 200, page.text
        body = page.json()
        total = body["total"] if total is None else total
        items.extend(body["items"])
        if len(body["items"]) < 7:
            return items, total
        before = body["items"][-1]["id"]


def exported(client: Any, who: Any, export_format: str = "csv", **filters: Any) -> Any:
    response = client.get(
        "/api/v1/reports/export", params={"format": export_format, **filters}, headers=who
    )
    assert response.status_code == 200, response.text
    return response


def csv_rows(body: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(body, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def jsonl_rows(body: str) -> list[dict[str, Any]]:
    assert body.endswith("\n") or body == ""
    return [json.loads(line) for line in body.splitlines()]


def moment(value: str | None) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_every_filter_exports_exactly_the_listings_rows(client, people, world, who):
    auth = people.auth(who)
    for filters in [*FILTERS, {"case_id": world["alice"]}, {"case_id": world["bob"], "overdue": 0}]:
        items, total = listing_items(client, auth, **filters)
        as_csv = exported(client, auth, "csv", **filters)
        as_jsonl = exported(client, auth, "jsonl", **filters)
        ids = [item["id"] for item in items]
        assert [int(row["id"]) for row in csv_rows(as_csv.text)] == ids, filters
        records = jsonl_rows(as_jsonl.text)
        assert [record["id"] for record in records] == ids, filters
        assert as_csv.headers["x-total-count"] == as_jsonl.headers["x-total-count"] == str(total)
        assert len(ids) == total
        for item, record in zip(items, records, strict=True):
            for name in ("case_id", "platform", "state", "rung_index", "rung_target"):
                assert record[name] == item[name], (filters, name)
            for name in ("canonical_url", "is_overdue", "last_verdict", "consecutive_removed"):
                assert record[name] == item[name], (filters, name)
            for name in ("deadline_at", "next_check_at", "created_at", "updated_at"):
                assert moment(record[name]) == moment(item[name]), (filters, name)
                assert record[name] is None or record[name].endswith("Z")
    # The filters did select different rows: the comparison is not of empty files. The
    # helpline's reports are ids 1-60; every fifth has a deadline passed.
    overdue = [n for n in range(60, 0, -1) if n % 5 == 0 and STATES[n % 6] in ON_THE_CLOCK]
    assert [item["id"] for item in listing_items(client, auth, overdue=True)[0]] == overdue
    assert len(overdue) >= 4
    assert [item["id"] for item in listing_items(client, auth)[0]] == list(range(60, 0, -1))


def test_the_files_parse_back_with_every_column(client, people, world):
    auth = people.auth("supervisor")
    as_csv = exported(client, auth, "csv", case_id=world["supervisor"])
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="reports-\d{4}-\d{2}-\d{2}\.csv"',
        as_csv.headers["content-disposition"],
    )
    assert as_csv.headers["cache-control"] == "no-store"
    assert as_csv.text.startswith(",".join(COLUMNS) + "\r\n")
    rows = csv_rows(as_csv.text)
    as_jsonl = exported(client, auth, "jsonl", case_id=world["supervisor"])
    assert as_jsonl.headers["content-type"] == "application/x-ndjson"
    assert as_jsonl.headers["content-disposition"].endswith('.jsonl"')
    records = jsonl_rows(as_jsonl.text)
    assert len(rows) == len(records) == 15
    for row, record in zip(rows, records, strict=True):
        assert tuple(record) == COLUMNS
        assert row == {name: csv_cell(record[name]) for name in COLUMNS}
        assert record["case_id"] == world["supervisor"]
        # The supervisor's case has no authority to act: its new reports are held.
        if record["state"] == "logged":
            assert record["hold_reason"] == "no_authority_to_act"
        assert row["is_overdue"] in ("true", "false")
    # Nothing about the victim: no label, no contact field, not even their names as columns.
    assert "Case FAKE-001" not in as_csv.text + as_jsonl.text
    assert not {"label", "contact", "original_url"} & set(COLUMNS)


def test_formula_cells_are_neutralised_in_csv_only(client, people, world, db):
    auth = people.auth("supervisor")
    first = jsonl_rows(exported(client, auth, "jsonl", case_id=world["alice"]).text)[0]
    hostile = {
        "platform": '=HYPERLINK("https://evil.example","open")',
        "pause_reason": "+1+cmd|' /C calc'!A0",
        "hold_reason": "@SUM(1,1)",
        "last_verdict": "-2+3",
        "canonical_url": "\t=1+1",
    }
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE reports SET platform = :platform, pause_reason = :pause_reason, "
                "hold_reason = :hold_reason, last_verdict = :last_verdict, "
                "canonical_url = :canonical_url WHERE id = :id"
            ),
            {**hostile, "id": first["id"]},
        )
    rows = csv_rows(exported(client, auth, "csv", case_id=world["alice"]).text)
    [row] = [row for row in rows if int(row["id"]) == first["id"]]
    for name, value in hostile.items():
        assert row[name] == "'" + value, name
    records = jsonl_rows(exported(client, auth, "jsonl", case_id=world["alice"]).text)
    [record] = [record for record in records if record["id"] == first["id"]]
    for name, value in hostile.items():
        assert record[name] == value, name  # JSON is data, not a spreadsheet: kept as it is


def test_csv_cell():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_cell(f"{start}1") == f"'{start}1"
    assert csv_cell("https://x.com/fakeuser/status/1") == "https://x.com/fakeuser/status/1"
    assert csv_cell(" =1") == " =1"
    assert csv_cell("'=1") == "'=1"
    assert csv_cell(None) == ""
    assert (csv_cell(True), csv_cell(False)) == ("true", "false")
    assert (csv_cell(0), csv_cell(12), csv_cell(1.5)) == ("0", "12", "1.5")


def test_only_a_supervisor_or_admin_and_only_their_organisation(client, people, world):
    people.add("metrics", "helpline", Role.METRICS)
    for who in ("alice", "bob", "dashboard", "metrics"):
        response = client.get("/api/v1/reports/export", headers=people.auth(who))
        assert response.status_code == 403, who
        assert response.json()["detail"][0]["type"] == "auth.forbidden"
        assert "fake" not in response.text
    assert client.get("/api/v1/reports/export").status_code == 401
    outsider = people.auth("outsider")
    theirs = jsonl_rows(exported(client, outsider, "jsonl").text)
    assert {record["case_id"] for record in theirs} == {world["outsider"]}
    assert len(theirs) == 15
    # The helpline's cases are not the other organisation's to export, by id either.
    for case_id in (world["alice"], world["supervisor"]):
        response = exported(client, outsider, "csv", case_id=case_id)
        assert response.text == ",".join(COLUMNS) + "\r\n"
        assert response.headers["x-total-count"] == "0"
    helpline = {
        record["case_id"]
        for record in jsonl_rows(exported(client, people.auth("admin"), "jsonl").text)
    }
    assert world["outsider"] not in helpline
    assert helpline == {world[name] for name in ("alice", "alice_2", "bob", "supervisor")}


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("format=xml", ["query", "format"]),
        ("format=", ["query", "format"]),
        ("state=gone", ["query", "state"]),
        ("overdue=perhaps", ["query", "overdue"]),
        ("case_id=0", ["query", "case_id"]),
        ("case_id=abc", ["query", "case_id"]),
        ("case_id=99999999999", ["query", "case_id"]),
        ("platform=" + "p" * 65, ["query", "platform"]),
        ("before_id=-1", ["query", "before_id"]),
        ("platform=x%00", ["query", "platform"]),
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(client, people, query, loc):
    response = client.get(f"/api/v1/reports/export?{query}", headers=people.auth("supervisor"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    # ... and the listing says the same of its own (shared) filters.
    if loc[1] not in ("format", "before_id"):
        listing = client.get(f"/api/v1/reports?{query}", headers=people.auth("supervisor"))
        assert listing.status_code == 422
        assert listing.json()["detail"][0]["loc"] == loc


def test_every_export_is_recorded_and_before_id_resumes(client, people, world, db):
    auth = people.auth("supervisor")
    everything = jsonl_rows(exported(client, auth, "jsonl", platform="x").text)
    cut = everything[4]["id"]
    rest = jsonl_rows(exported(client, auth, "jsonl", platform="x", before_id=cut).text)
    assert rest == everything[5:]
    with db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "reports.exported")
            .order_by(AuditEvent.id)
        ).all()
    assert [event.actor for event in events] == [f"user:{people.ids['supervisor']}"] * 2
    assert events[-1].details == {
        "format": "jsonl",
        "case_id": None,
        "state": None,
        "platform": "x",
        "overdue": None,
        "before_id": cut,
        "selected": len(everything),
    }
    assert events[-1].object_type == "organisation"


def test_the_stream_reads_in_chunks_and_holds_one_at_a_time(client, people, db):
    """10,000 reports read 100 at a time: one keyset statement a chunk, and the peak of Python
    memory while the file is made is a small fraction of the file, the same for half of it."""
    case_id = new_case(client, people, who="supervisor", authority_to_act=False)
    add_reports(client, people, case_id, range(10_000), "supervisor")
    chunk = 100
    with db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        filters = report_filter(
            organisation_id=case.organisation_id,
            case_ids=None,
            state=None,
            platform=None,
            overdue=None,
            now=utcnow(),
        )
        chunks = report_chunks(session=session, filters=filters, chunk_size=chunk)
        ids = [row.id for rows in chunks for row in rows]
        assert len(ids) == 10_000 and ids == sorted(ids, reverse=True)
        middle = ids[4999]  # the 5,000 older than it are half of the file

        statements: list[str] = []

        def seen(_connection, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
            if "FROM reports" in statement:
                statements.append(statement)

        def measured(export_format: ExportFormat, before_id: int | None) -> tuple[int, int]:
            """The size of the export and the peak of traced memory while it was made."""
            moved: list[int] = []
            statements.clear()
            event.listen(db.engine, "before_cursor_execute", seen)
            tracemalloc.start()
            try:
                size = 0
                for piece in export_reports(
                    session=session,
                    filters=filters,
                    export_format=export_format,
                    before_id=before_id,
                    chunk_size=chunk,
                    on_rows=moved.append,
                ):
                    size += len(piece)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                event.remove(db.engine, "before_cursor_execute", seen)
            rows = 10_000 if before_id is None else 5000
            assert moved == [chunk] * (rows // chunk)
            # Full chunks, then one that finds nothing more: each a keyset statement.
            assert len(statements) == math.ceil(rows / chunk) + 1, statements[:2]
            assert all("LIMIT" in statement and "ORDER BY" in statement for statement in statements)
            return size, peak

        for export_format in ExportFormat:
            for _piece in export_reports(
                session=session, filters=filters, export_format=export_format, chunk_size=chunk
            ):
                pass  # the statements compiled and cached first, and the policy read
            size, peak = measured(export_format, None)
            half_size, half_peak = measured(export_format, middle)
            assert size > 1_800_000, size  # 10,000 rows of 180 characters or more
            assert abs(half_size * 2 - size) < size / 50
            assert peak < size / 5, (export_format, peak, size)
            # Twice the rows, not twice the memory: it depends on the chunk, not the file.
            assert peak < half_peak * 1.5, (export_format, peak, half_peak)
    # Through the API, the same rows in the same order ("export" is never read as an id).
    response = exported(client, people.auth("supervisor"), "csv", case_id=case_id)
    ids = [int(row["id"]) for row in csv_rows(response.text)]
    assert len(ids) == 10_000 and ids == sorted(ids, reverse=True)
