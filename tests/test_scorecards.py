"""Scorecards: reports driven through their lives on the tracker's clock (filed, removed,
rejected, escalated, reappeared, paused, waiting for a packet) and every figure asserted
exactly, from the deltas, after a fold, and after a replay of the history; on both backends."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import new_case
from sqlmodel import col, select
from test_filing_flow import filings_of, report
from test_recheck_flow import check

from platform_adapters.base import PlatformStatus
from tracker.db import set_clock
from tracker.escalation.service import escalate
from tracker.filings.models import Filing
from tracker.filings.service import mark_submitted, record_poll
from tracker.reports.models import Report
from tracker.scorecards.replay import replay_outcomes
from tracker.scorecards.rollup import fold_scorecards, pending_scorecard_deltas
from workers import jobs

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
HOUR = 3600
BASIS_PLATFORM = "The platform's own policy on non-consensual intimate imagery"
BASIS_HOST = "The hosting provider's acceptable-use policy"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def at(self, hours: float) -> None:
        self.now = T0 + timedelta(hours=hours)


@pytest.fixture
def clock():
    moving = Clock()
    set_clock(lambda: moving.now)
    yield moving
    set_clock(None)


def log(client, people, url: str) -> int:
    case_id = new_case(client, people, jurisdictions=["INTL"])
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]["report_id"]


def file_now(db, clock, report_id: int) -> None:
    """The report's pending ladder filing reaches its recipient at the clock's time."""
    reference = f"FAKE-REF-{report_id}-{clock.now:%d%H%M}"
    with db.transaction() as session:
        filing = session.exec(
            select(Filing)
            .where(Filing.report_id == report_id, Filing.track == "ladder")
            .order_by(col(Filing.id).desc())
        ).first()
        current = session.get(Report, report_id)
        mark_submitted(
            session=session,
            filing=filing,
            report=current,
            external_ref=reference,
            submitted_at=clock.now,
            actor="test",
            cause="filed (test)",
        )


def removed_at(db, clock, report_id: int, hours: float) -> None:
    """Two consecutive removed checks, the second (the confirmation) at ``hours``."""
    clock.at(hours - 0.5)
    check(db, report_id, "removed")
    clock.at(hours)
    assert check(db, report_id, "removed").state == "removed"


def drive(client, people, db, clock) -> dict[str, int]:
    """Seven reports filed in the week of 1 March 2027 and one the week after; one never
    filed. Times are hours after T0."""
    ids = {}
    clock.at(0)
    # A: a web-form packet, submitted by hand 2 h later; removed 4 h after that.
    ids["A"] = log(client, people, "https://www.facebook.com/fakeprofile/videos/1000000001")
    [packet] = filings_of(db, ids["A"])
    jobs.file_filing(packet.id, db=db)
    assert report(db, ids["A"]).state == "awaiting_manual"
    clock.at(2)
    confirmed = client.post(
        f"/api/v1/filings/{packet.id}/confirm",
        json={"reference_id": "FB-FAKE-0001"},
        headers=people.auth("alice"),
    )
    assert confirmed.status_code == 200, confirmed.text
    removed_at(db, clock, ids["A"], 6)
    # E: Facebook too, filed at T0, removed at 3 h, back at 50 h, filed again, removed again.
    clock.at(0)
    ids["E"] = log(client, people, "https://www.facebook.com/fakeprofile/videos/1000000005")
    file_now(db, clock, ids["E"])
    removed_at(db, clock, ids["E"], 3)
    clock.at(50)
    assert check(db, ids["E"], "live").state == "reappeared"
    clock.at(51)
    file_now(db, clock, ids["E"])
    removed_at(db, clock, ids["E"], 60)
    # B: X, filed at T0, removed at 26 h.
    clock.at(0)
    ids["B"] = log(client, people, "https://x.com/fakeaccount/status/2000000002")
    file_now(db, clock, ids["B"])
    removed_at(db, clock, ids["B"], 26)
    # C: X, rejected at 10 h ("does not violate"), escalated to the host, filed there at
    # 11 h, removed at 30 h.
    clock.at(0)
    ids["C"] = log(client, people, "https://x.com/fakeaccount/status/2000000003")
    file_now(db, clock, ids["C"])
    clock.at(10)
    with db.transaction() as session:
        [first] = [f for f in filings_of(db, ids["C"]) if f.track == "ladder"]
        cause = record_poll(
            session=session,
            filing_id=first.id,
            status=PlatformStatus.REJECTED,
            detail="The content does not violate our policies",
        )
        assert cause is not None
        escalate(session=session, report=session.get(Report, ids["C"]), cause=cause, actor="test")
    clock.at(11)
    file_now(db, clock, ids["C"])
    removed_at(db, clock, ids["C"], 30)
    # D: X, filed at T0, still live past its 72 h deadline: escalated to the host at 73 h.
    clock.at(0)
    ids["D"] = log(client, people, "https://x.com/fakeaccount/status/2000000004")
    file_now(db, clock, ids["D"])
    clock.at(1)
    check(db, ids["D"], "live")
    clock.at(73)
    assert jobs.escalate_report(ids["D"], db=db) is True
    # F: X, filed at T0, paused from 1 h to 4 h (waiting for the victim); still live.
    clock.at(0)
    ids["F"] = log(client, people, "https://x.com/fakeaccount/status/2000000006")
    file_now(db, clock, ids["F"])
    clock.at(1)
    paused = client.post(
        f"/api/v1/reports/{ids['F']}/pause",
        json={"reason": "waiting_for_victim"},
        headers=people.auth("alice"),
    )
    assert paused.status_code == 200, paused.text
    clock.at(4)
    resumed = client.post(f"/api/v1/reports/{ids['F']}/resume", headers=people.auth("alice"))
    assert resumed.status_code == 200, resumed.text
    # G: logged, never filed: counted nowhere.
    clock.at(0)
    ids["G"] = log(client, people, "https://x.com/fakeaccount/status/2000000007")
    # H: X, filed the next Tuesday.
    clock.at(8 * 24)
    ids["H"] = log(client, people, "https://x.com/fakeaccount/status/2000000008")
    file_now(db, clock, ids["H"])
    clock.at(9 * 24)
    return ids


MARCH = {"from": "2027-03-01", "to": "2027-03-31"}


def expected_total() -> dict:
    return {
        "filed": 7,
        "removed": 4,
        "removal_rate": round(4 / 7, 4),
        "median_seconds_to_removal": 4 * HOUR,  # 3 h, 4 h, 26 h, 30 h: the 2nd
        "p90_seconds_to_removal": 30 * HOUR,  # the 4th
        "removed_within_deadline": 4,
        "within_deadline_rate": round(4 / 7, 4),
        "rejected": 1,
        "rejection_rate": round(1 / 7, 4),
        "rejections_by_reason": {"not_violating": 1},
        "escalated": 2,
        "escalation_rate": round(2 / 7, 4),
        "escalated_to": {"host": 2},
        "reappeared": 1,
        "reappearance_rate": 0.25,
        "waiting_manual_seconds": 2 * HOUR,
        "paused_seconds": 3 * HOUR,
        "mean_seconds_waiting_on_people": round(5 * HOUR / 7, 1),
    }


def by_platform() -> list[dict]:
    facebook = {
        "platform": "facebook",
        "channel": None,
        "legal_basis": None,
        "rung": None,
        "filed": 2,
        "removed": 2,
        "removal_rate": 1.0,
        "median_seconds_to_removal": 3 * HOUR,
        "p90_seconds_to_removal": 4 * HOUR,
        "removed_within_deadline": 2,
        "within_deadline_rate": 1.0,
        "rejected": 0,
        "rejection_rate": 0.0,
        "rejections_by_reason": {},
        "escalated": 0,
        "escalation_rate": 0.0,
        "escalated_to": {},
        "reappeared": 1,
        "reappearance_rate": 0.5,
        "waiting_manual_seconds": 2 * HOUR,
        "paused_seconds": 0,
        "mean_seconds_waiting_on_people": float(HOUR),
    }
    x = {
        "platform": "x",
        "channel": None,
        "legal_basis": None,
        "rung": None,
        "filed": 5,
        "removed": 2,
        "removal_rate": 0.4,
        "median_seconds_to_removal": 26 * HOUR,
        "p90_seconds_to_removal": 30 * HOUR,
        "removed_within_deadline": 2,
        "within_deadline_rate": 0.4,
        "rejected": 1,
        "rejection_rate": 0.2,
        "rejections_by_reason": {"not_violating": 1},
        "escalated": 2,
        "escalation_rate": 0.4,
        "escalated_to": {"host": 2},
        "reappeared": 0,
        "reappearance_rate": 0.0,
        "waiting_manual_seconds": 0,
        "paused_seconds": 3 * HOUR,
        "mean_seconds_waiting_on_people": round(3 * HOUR / 5, 1),
    }
    return [facebook, x]


def scorecard(client, people, who="dashboard", **params):
    answer = client.get("/api/v1/scorecards", params=params, headers=people.auth(who))
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_all_figures(client, people) -> None:
    march = scorecard(client, people, **MARCH)
    assert march["total"] == expected_total()
    assert march["rows"] == [
        {"platform": None, "channel": None, "legal_basis": None, "rung": None, **expected_total()}
    ]
    assert scorecard(client, people, group_by="platform", **MARCH)["rows"] == by_platform()
    # The same over days that are not a whole month (day cells, not month cells).
    first_week = scorecard(client, people, **{"from": "2027-02-20", "to": "2027-03-07"})
    assert first_week["total"]["filed"] == 6 and first_week["total"]["removed"] == 4
    # By rung: the rung (target) of each report's latest filing or escalation.
    rungs = {
        row["rung"]: row for row in scorecard(client, people, group_by="rung", **MARCH)["rows"]
    }
    assert {rung: row["filed"] for rung, row in rungs.items()} == {"host": 2, "platform": 5}
    assert rungs["host"]["removed"] == 1 and rungs["host"]["p90_seconds_to_removal"] == 30 * HOUR
    bases = scorecard(client, people, group_by="legal_basis", **MARCH)["rows"]
    assert {row["legal_basis"]: row["filed"] for row in bases} == {BASIS_HOST: 2, BASIS_PLATFORM: 5}
    channels = scorecard(client, people, group_by=["platform", "channel"], **MARCH)["rows"]
    assert [(r["platform"], r["channel"], r["filed"]) for r in channels] == [
        ("facebook", "webform", 2),
        ("x", "email", 1),  # C, filed with the host by e-mail after the rejection
        ("x", "webform", 4),
    ]
    # Filters.
    only_x = scorecard(client, people, platform="x", **MARCH)["total"]
    assert only_x == {
        k: v
        for k, v in by_platform()[1].items()
        if k not in ("platform", "channel", "legal_basis", "rung")
    }
    # Trends: a point per ISO week, zeros included.
    weeks = client.get(
        "/api/v1/scorecards/trends",
        params={"period": "week", "from": "2027-03-01", "to": "2027-03-21"},
        headers=people.auth("dashboard"),
    ).json()
    assert (weeks["from"], weeks["to"]) == ("2027-03-01", "2027-03-21")
    assert [(p["period_start"], p["filed"], p["removed"]) for p in weeks["points"]] == [
        ("2027-03-01", 6, 4),
        ("2027-03-08", 1, 0),
        ("2027-03-15", 0, 0),
    ]
    assert weeks["points"][0]["median_seconds_to_removal"] == 4 * HOUR
    days = client.get(
        "/api/v1/scorecards/trends",
        params={"period": "day", "from": "2027-03-01", "to": "2027-03-09"},
        headers=people.auth("dashboard"),
    ).json()["points"]
    assert [p["filed"] for p in days] == [6, 0, 0, 0, 0, 0, 0, 0, 1]
    months = client.get(
        "/api/v1/scorecards/trends",
        params={
            "period": "month",
            "from": "2027-03-15",
            "to": "2027-04-02",
            "group_by": "platform",
        },
        headers=people.auth("dashboard"),
    ).json()
    assert (months["from"], months["to"]) == ("2027-03-01", "2027-04-30")
    assert [(p["period_start"], p["platform"], p["filed"]) for p in months["points"]] == [
        ("2027-03-01", "facebook", 2),
        ("2027-03-01", "x", 5),
    ]


def test_every_figure_exactly_before_and_after_a_fold_and_a_replay(client, people, db, clock):
    drive(client, people, db, clock)
    with db.session() as session:
        assert pending_scorecard_deltas(session=session) > 0
    assert_all_figures(client, people)  # from the deltas alone
    with db.transaction() as session:
        assert fold_scorecards(session=session) > 0
    with db.session() as session:
        assert pending_scorecard_deltas(session=session) == 0
    assert_all_figures(client, people)  # from the cells
    with db.transaction() as session:
        replay_outcomes(session.connection())  # what the migration does to an existing database
    assert_all_figures(client, people)


def test_exports_stream_the_same_figures(client, people, db, clock):
    drive(client, people, db, clock)
    answer = client.get(
        "/api/v1/scorecards/export",
        params={"format": "csv", "group_by": "platform", **MARCH},
        headers=people.auth("dashboard"),
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="scorecard-2027-03-01-2027-03-31.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [
        (r["platform"], r["filed"], r["removed"], r["median_seconds_to_removal"]) for r in rows
    ] == [
        ("facebook", "2", "2", str(3 * HOUR)),
        ("x", "5", "2", str(26 * HOUR)),
    ]
    assert rows[1]["rejected_not_violating"] == "1" and rows[1]["escalated_to_host"] == "2"
    lines = client.get(
        "/api/v1/scorecards/trends/export",
        params={"format": "jsonl", "period": "week", "from": "2027-03-01", "to": "2027-03-14"},
        headers=people.auth("dashboard"),
    )
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    points = [json.loads(line) for line in lines.text.splitlines()]
    assert [(p["period_start"], p["filed"]) for p in points] == [
        ("2027-03-01", 6),
        ("2027-03-08", 1),
    ]


def test_who_may_read_and_what_is_refused(client, people, db, clock):
    drive(client, people, db, clock)
    for who in ("dashboard", "supervisor", "admin"):
        assert scorecard(client, people, who=who, **MARCH)["total"]["filed"] == 7
    assert scorecard(client, people, who="outsider", **MARCH)["total"]["filed"] == 0
    caseworker = client.get("/api/v1/scorecards", headers=people.auth("alice"))
    assert caseworker.status_code == 403
    assert client.get("/api/v1/scorecards").status_code == 401
    cases = [
        ({"from": "2027-03-10", "to": "2027-03-01"}, ["query", "from"]),
        ({"from": "2020-01-01", "to": "2027-03-01"}, ["query", "to"]),
        ({"group_by": "victim"}, ["query", "group_by", 0]),
        ({"from": "yesterday"}, ["query", "from"]),
        ({"platform": "p" * 65}, ["query", "platform"]),
    ]
    for params, loc in cases:
        answer = client.get("/api/v1/scorecards", params=params, headers=people.auth("dashboard"))
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["detail"][0]["loc"] == loc, (params, answer.text)
    bad_period = client.get(
        "/api/v1/scorecards/trends", params={"period": "year"}, headers=people.auth("dashboard")
    )
    assert bad_period.status_code == 422 and bad_period.json()["detail"][0]["loc"] == [
        "query",
        "period",
    ]
    long_days = client.get(
        "/api/v1/scorecards/trends",
        params={"period": "day", "from": "2025-01-01", "to": "2027-03-01"},
        headers=people.auth("dashboard"),
    )
    assert long_days.status_code == 422 and long_days.json()["detail"][0]["loc"] == ["query", "to"]


def test_buckets_round_up_to_the_next_edge():
    from tracker.scorecards.buckets import EDGES, bucket_of, percentile, upper_edge

    assert upper_edge(bucket_of(26 * HOUR)) == 26 * HOUR
    assert upper_edge(bucket_of(26 * HOUR + 1)) == 27 * HOUR
    assert upper_edge(bucket_of(50 * HOUR)) == 54 * HOUR
    assert upper_edge(bucket_of(0)) == 15 * 60
    assert upper_edge(bucket_of(-5)) == 15 * 60
    assert upper_edge(bucket_of(10_000 * 24 * HOUR)) == EDGES[-1]
    assert percentile({}, 0.5) is None
    assert percentile({bucket_of(HOUR): 9, bucket_of(48 * HOUR): 1}, 0.9) == HOUR
    assert percentile({bucket_of(HOUR): 9, bucket_of(48 * HOUR): 1}, 0.91) == 48 * HOUR
    assert list(EDGES) == sorted(set(EDGES))
    assert date(2027, 3, 1).weekday() == 0


def test_the_command_line_writes_the_same_exports(client, people, db, clock, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import tracker.runtime
    from tracker.cli import app

    drive(client, people, db, clock)
    monkeypatch.setattr(tracker.runtime, "database", lambda: db)
    runner = CliRunner()
    target = tmp_path / "march.csv"
    common = ["--organisation", "Test helpline", "--from", "2027-03-01", "--to", "2027-03-31"]
    done = runner.invoke(
        app, ["export", "scorecards", *common, "--group-by", "platform", "--output", str(target)]
    )
    assert done.exit_code == 0, done.output
    api = client.get(
        "/api/v1/scorecards/export",
        params={"format": "csv", "group_by": "platform", **MARCH},
        headers=people.auth("dashboard"),
    )
    assert target.read_bytes().decode() == api.text
    weeks = runner.invoke(
        app, ["export", "trends", *common, "--period", "week", "--format", "jsonl"]
    )
    assert weeks.exit_code == 0, weeks.output
    points = [json.loads(line) for line in weeks.stdout.splitlines()]
    assert [(p["period_start"], p["filed"]) for p in points][:2] == [
        ("2027-03-01", 6),
        ("2027-03-08", 1),
    ]
    report = runner.invoke(
        app,
        [
            "export",
            "transparency",
            "--organisation",
            "Test helpline",
            "--year",
            "2027",
            "--threshold",
            "3",
        ],
    )
    assert report.exit_code == 0 and "filed,x,year,5,0" in report.stdout
    bad = runner.invoke(app, ["export", "scorecards", *common[:2], "--from", "March"])
    assert bad.exit_code == 2 and "--from must be a date" in bad.stderr
    backwards = runner.invoke(
        app, ["export", "scorecards", *common[:2], "--from", "2027-03-09", "--to", "2027-03-01"]
    )
    assert backwards.exit_code == 2 and "from must not be after to" in backwards.stderr
    unknown = runner.invoke(app, ["export", "scorecards", "--organisation", "No such helpline"])
    assert unknown.exit_code == 2 and "no organisation named" in unknown.stderr
