"""A case involving a minor: its reports take the child-protection ladder, whatever the case's
jurisdictions, and the child-protection routes (NCMEC, the IWF, India's NCRP child category) are
offered from the directory alongside it, as packets; media is never stored (tests/test_evidence)."""

from __future__ import annotations

import time

from conftest import new_case
from test_filing_flow import filings_of

from tracker.policies.models import PolicyVersion
from tracker.reports.models import Report
from tracker.settings import get_settings
from workers import jobs
from workers.scheduler import sweep_parallel


def test_a_minor_case_takes_the_child_ladder_with_the_child_protection_routes(
    client, people, db, sandbox
):
    alice = people.auth("alice")
    case_id = new_case(client, people, minor_involved=True)
    url = f"{sandbox.base_url}/videos/ignore-minor-{time.monotonic_ns()}"
    answer = client.post(f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=alice)
    assert answer.status_code == 200, answer.text
    report_id = answer.json()["results"][0]["report_id"]
    with db.session() as session:
        report = session.get(Report, report_id)
        policy = session.get(PolicyVersion, report.policy_version_id)
        assert policy.jurisdiction == "CHILD"
    detail = client.get(f"/api/v1/reports/{report_id}", headers=alice).json()
    assert [step["target"] for step in detail["ladder"]] == ["platform", "host", "cdn", "registrar"]
    assert [track["target"] for track in detail["policy"]["parallel"]] == [
        "ncmec",
        "iwf",
        "ncrp_child",
    ]
    # The first filing goes out; the child-protection routes open at once after it.
    [first] = filings_of(db, report_id)
    assert jobs.file_filing(first.id, db=db) == "filed"
    assert sweep_parallel(db, get_settings()) == 1
    tracks = {filing.rung_target: filing for filing in filings_of(db, report_id)[1:]}
    assert set(tracks) == {"ncmec", "iwf", "ncrp_child"}
    for filing in tracks.values():
        assert filing.track == "parallel" and filing.channel_kind == "webform"
        assert jobs.file_filing(filing.id, db=db) == "filed"
    packets = {
        item["rung_target"]: item["packet"]
        for item in client.get("/api/v1/filings", headers=alice).json()["items"]
    }
    assert packets["ncmec"]["form_url"] == "https://report.cybertip.org/"
    assert packets["iwf"]["form_url"] == "https://report.iwf.org.uk/"
    assert packets["ncrp_child"]["form_url"] == "https://cybercrime.gov.in/"
    assert "Child" in packets["ncrp_child"]["policy_category"]


def test_an_adult_case_keeps_its_jurisdictions_ladder(client, people, db, sandbox):
    case_id = new_case(client, people)
    url = f"{sandbox.base_url}/videos/ignore-adult-{time.monotonic_ns()}"
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    report_id = answer.json()["results"][0]["report_id"]
    with db.session() as session:
        report = session.get(Report, report_id)
        assert session.get(PolicyVersion, report.policy_version_id).jurisdiction == "TEST"


def test_the_child_ladder_is_not_offered_as_a_jurisdiction(client, people):
    from console_client import signed_in

    console = signed_in(client, people, "alice")
    page = console.get("/cases/new")
    assert 'value="TEST"' in page.text and 'value="CHILD"' not in page.text
