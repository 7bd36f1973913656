"""`tracker import` logs a file's URLs into a case through the API's intake, as a user who may
act on it, and says what became of every line; `tracker export reports` writes the API
export's rows. Every refusal is one line and exit code 2."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import new_case
from sqlalchemy import text
from sqlmodel import col, select
from typer.testing import CliRunner

from tracker.audit.models import AuditEvent
from tracker.organisations.models import Role
from tracker.reports.export import COLUMNS
from tracker.reports.models import Report

HELPLINE = "Test helpline"
CSV_FILE = "\n".join(
    [
        "address,note",  # a header: no address in it
        "https://x.com/fakeuser/status/101,first",
        "https://fake-1.example/leak,second",
        "nothing to see here,third",
        "https://x.com/fakeuser/status/101?utm_source=fake,the first again",
        "ftp://fake-2.example/file,not the web",
        "http://10.0.0.7/private,not public",
        "",
        "https://reddit.com/r/fakesub/comments/1/fake,",
    ]
)
SUMMARY = [
    "logged: 3",
    "duplicates: 1",
    "refused: 3",
    "  line 4: no address on this line",
    "  line 6: only web addresses (http or https) can be followed",
    "  line 7: this address is not on the public internet: it can never be checked",
]


@pytest.fixture
def cli(db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `tracker` command bound to the test database."""
    import tracker.runtime
    from tracker.cli import app

    monkeypatch.setattr(tracker.runtime, "database", lambda: db)
    runner = CliRunner()
    return lambda *arguments: runner.invoke(app, [str(argument) for argument in arguments])


def case_urls(db: Any, case_id: int) -> list[str]:
    with db.session() as session:
        return list(
            session.exec(
                select(Report.canonical_url)
                .where(Report.case_id == case_id)
                .order_by(col(Report.id))
            ).all()
        )


def refused(result: Any) -> str:
    """The one line a refused command prints, and its exit code 2."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return str(line)


def test_import_logs_good_lines_and_says_what_became_of_the_rest(cli, client, people, db, tmp_path):
    case_id = new_case(client, people)
    source = tmp_path / "urls.csv"
    source.write_text(CSV_FILE, encoding="utf-8")
    result = cli("import", source, "--case", case_id, "--as-user", people.ids["alice"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == SUMMARY
    assert "Logging URLs" in result.stderr  # the progress bar
    # Line numbers and reasons only: nothing that was on a line is repeated.
    for fragment in ("fakeuser", "fake-1", "fake-2", "10.0.0.7", "third", "nothing to see"):
        assert fragment not in result.output
    assert case_urls(db, case_id) == [
        "https://x.com/fakeuser/status/101",
        "https://fake-1.example/leak",
        "https://reddit.com/r/fakesub/comments/1/fake",
    ]
    with db.session() as session:
        [added] = session.exec(select(AuditEvent).where(AuditEvent.action == "reports.added")).all()
    assert added.actor == f"user:{people.ids['alice']}"
    assert added.object_id == case_id
    assert added.details == {"created": 3, "rejected": 2}

    # A text file, one address a line, in chunks of two: what is in the case already, in this
    # chunk or in an earlier one is a duplicate, whichever chunk it is in.
    again = tmp_path / "more.txt"
    again.write_text(
        "https://fake-1.example/leak\n\n"
        "1. https://x.com/fakeuser/status/102 (new)\n"
        "https://reddit.com/r/fakesub/comments/1/fake\n"
        "https://x.com/fakeuser/status/102\n"
        "see https://x.com/fakeuser/status/103 and www.fake-3.example/a\n",
        encoding="utf-8",
    )
    result = cli(
        "import", again, "--case", case_id, "--as-user", people.ids["alice"], "--chunk-size", 2
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["logged: 3", "duplicates: 3", "refused: 0"]
    assert case_urls(db, case_id)[3:] == [
        "https://x.com/fakeuser/status/102",
        "https://x.com/fakeuser/status/103",
        "https://www.fake-3.example/a",
    ]
    with db.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "reports.added")).all()
    assert len(events) == 1 + 3  # one intake a chunk: six addresses, two a chunk


def test_held_reports_and_users_named_by_sign_in_or_e_mail(cli, client, people, db, tmp_path):
    case_id = new_case(client, people, who="supervisor", authority_to_act=False)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE users SET notification_email = 'Desk.Supervisor@helpline.example' "
                "WHERE id = :id"
            ),
            {"id": people.ids["supervisor"]},
        )
        connection.execute(
            text("UPDATE users SET login = 'admin-fake' WHERE id = :id"),
            {"id": people.ids["admin"]},
        )
    source = tmp_path / "one.txt"
    source.write_text("https://x.com/fakeuser/status/7\n", encoding="utf-8")
    result = cli(
        "import",
        source,
        "--case",
        case_id,
        "--as-user",
        "desk.supervisor@helpline.example",
        "--organisation",
        HELPLINE,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "logged: 1 (1 held, not filed yet)"
    # An admin (by sign-in name) may act on any case of the organisation.
    source.write_text("https://x.com/fakeuser/status/8\n", encoding="utf-8")
    result = cli("import", source, "--case", case_id, "--as-user", "ADMIN-fake")
    assert result.exit_code == 0, result.output
    with db.session() as session:
        actors = session.exec(
            select(AuditEvent.actor)
            .where(AuditEvent.action == "reports.added")
            .order_by(col(AuditEvent.id))
        ).all()
    assert actors == [f"user:{people.ids['supervisor']}", f"user:{people.ids['admin']}"]


def test_import_refusals_are_one_line_and_exit_2(cli, client, people, db, tmp_path):
    case_id = new_case(client, people)
    good = tmp_path / "good.txt"
    good.write_text("https://x.com/fakeuser/status/9\n", encoding="utf-8")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    people.add("deactivated", "helpline", Role.CASEWORKER)
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET is_active = false WHERE id = :id"),
            {"id": people.ids["deactivated"]},
        )
    alice = people.ids["alice"]
    cases = [
        (
            [good, "--case", 999999, "--as-user", alice],
            "tracker import: no case 999999",
        ),
        (
            [tmp_path / "missing.csv", "--case", case_id, "--as-user", alice],
            "tracker import: the file does not exist or is not a file",
        ),
        (
            [tmp_path, "--case", case_id, "--as-user", alice],
            "tracker import: the file does not exist or is not a file",
        ),
        (
            [binary, "--case", case_id, "--as-user", alice],
            "tracker import: cannot read the file: the file is not text",
        ),
        (
            [empty, "--case", case_id, "--as-user", alice],
            "tracker import: the file holds no lines",
        ),
        (
            [good, "--case", case_id, "--as-user", alice, "--organisation", "No such helpline"],
            "tracker import: no organisation named 'No such helpline'",
        ),
        (
            [good, "--case", case_id, "--as-user", alice, "--organisation", "Other helpline"],
            f"tracker import: no user '{alice}' in that organisation",
        ),
        (
            [good, "--case", case_id, "--as-user", "nobody@helpline.example"],
            "tracker import: no user 'nobody@helpline.example'",
        ),
        (
            [good, "--case", case_id, "--as-user", people.ids["bob"]],
            f"tracker import: user {people.ids['bob']} may not act on case {case_id}",
        ),
        (
            [good, "--case", case_id, "--as-user", people.ids["outsider"]],
            f"tracker import: user {people.ids['outsider']} may not act on case {case_id}",
        ),
        (
            [good, "--case", case_id, "--as-user", people.ids["dashboard"]],
            f"tracker import: user {people.ids['dashboard']} is a dashboard user: only a "
            "caseworker, supervisor or admin logs URLs",
        ),
        (
            [good, "--case", case_id, "--as-user", people.ids["deactivated"]],
            f"tracker import: user {people.ids['deactivated']} is deactivated",
        ),
    ]
    for arguments, message in cases:
        assert refused(cli("import", *arguments)) == message, arguments
    closed = client.patch(
        f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=people.auth("alice")
    )
    assert closed.status_code == 200, closed.text
    assert refused(cli("import", good, "--case", case_id, "--as-user", alice)) == (
        f"tracker import: case {case_id} is closed"
    )
    # A bad option is click's own usage error, exit 2 as well.
    assert cli("import", good, "--case", 0, "--as-user", alice).exit_code == 2
    assert case_urls(db, case_id) == []


def exported_by_api(client: Any, people: Any, **params: Any) -> str:
    response = client.get(
        "/api/v1/reports/export", params=params, headers=people.auth("supervisor")
    )
    assert response.status_code == 200, response.text
    return response.text


def test_export_writes_the_api_exports_rows(cli, client, people, db, tmp_path):
    alice_case = new_case(client, people)
    bob_case = new_case(client, people, who="bob")
    outsider_case = new_case(client, people, who="outsider")
    for case_id, who, numbers in (
        (alice_case, "alice", range(0, 30)),
        (bob_case, "bob", range(100, 110)),
        (outsider_case, "outsider", range(200, 205)),
    ):
        urls = [
            f"https://x.com/fakeuser/status/{n}" if n % 2 else f"https://fake-{n}.example/v"
            for n in numbers
        ]
        response = client.post(
            f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
        )
        assert response.status_code == 200, response.text
    target = tmp_path / "reports.csv"
    result = cli("export", "reports", "--organisation", HELPLINE, "--output", target)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"40 reports written to {target}"
    assert "Exporting reports" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    written = target.read_bytes().decode("utf-8")
    assert written == exported_by_api(client, people)  # the same service, the same bytes
    rows = list(csv.DictReader(io.StringIO(written, newline="")))
    assert len(rows) == 40 and {int(row["case_id"]) for row in rows} == {alice_case, bob_case}
    assert not list(tmp_path.glob(".export-*"))  # the partial file was renamed, not left

    # JSON lines to standard output, with the listing's filters.
    result = cli(
        "export",
        "reports",
        "--organisation",
        HELPLINE,
        "--format",
        "jsonl",
        "--case",
        alice_case,
        "--platform",
        "x",
        "--not-overdue",
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["id"] for record in records] == [
        record["id"]
        for record in map(
            json.loads,
            exported_by_api(
                client, people, format="jsonl", case_id=alice_case, platform="x", overdue=False
            ).splitlines(),
        )
    ]
    assert len(records) == 15 and all(tuple(record) == COLUMNS for record in records)
    result = cli("export", "reports", "--organisation", "Other helpline", "--state", "logged")
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 5

    with db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "reports.exported", AuditEvent.actor == "cli")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [event.details["selected"] for event in events] == [40, 15, 5]
    assert events[1].details["case_id"] == alice_case and events[1].details["overdue"] is False


def test_export_refusals_are_one_line_and_exit_2(cli, client, people, tmp_path):
    outsider_case = new_case(client, people, who="outsider")
    for arguments, message in [
        (
            ["--organisation", "No such helpline"],
            "tracker export reports: no organisation named 'No such helpline'",
        ),
        (
            ["--organisation", HELPLINE, "--case", outsider_case],
            f"tracker export reports: no case {outsider_case} in organisation '{HELPLINE}'",
        ),
        (
            ["--organisation", HELPLINE, "--platform", "p" * 65],
            "tracker export reports: --platform: at most 64 characters",
        ),
        (
            ["--organisation", HELPLINE, "--output", tmp_path / "missing" / "reports.csv"],
            "tracker export reports: cannot write to that folder: No such file or directory",
        ),
    ]:
        assert refused(cli("export", "reports", *arguments)) == message, arguments
    for arguments in (["--format", "xml"], ["--state", "gone"], ["--case", 0]):
        result = cli("export", "reports", "--organisation", HELPLINE, *arguments)
        assert result.exit_code == 2, arguments
    assert not list(Path(tmp_path).iterdir())
