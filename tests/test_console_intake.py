"""Adding URLs in the console: the no-write preview line by line, then the real intake."""

from __future__ import annotations

import html
import re

from conftest import new_case
from sqlalchemy import func
from sqlmodel import select

from tests.console_client import ConsoleClient, signed_in
from tracker.audit.models import AuditEvent
from tracker.filings.models import Filing
from tracker.reports.models import Report, ReportTransition

#: Ten lines with text around the addresses, a blank line, a duplicate and invalid lines.
PASTE = """Links from the chat:
1) see https://leak-one.example/v/1 (mirror)
2. <https://leak-two.example/p/2>,
  "https://www.facebook.com/fakeprofile/videos/111"
- youtu.be/FAKEVIDEO01?si=abc and that's it

just some words, no link here
3) https://leak-one.example/v/1/   (same again)
ftp://files.example/leak
https://user:secret@host.example/x
final: https://leak-three.example/z."""

#: (line, outcome, what the outcome column says besides the outcome) per row, in order.
EXPECTED = [
    ("1", "rejected", "No address on this line"),
    ("2", "created", ""),
    ("3", "created", ""),
    ("4", "created", ""),
    ("5", "created", ""),
    ("7", "rejected", "No address on this line"),
    ("8", "duplicate", "Same address as line 2"),
    ("9", "rejected", "Only web addresses (http or https) can be followed"),
    ("10", "rejected", "The address contains a user name or password"),
    ("11", "duplicate", "Already in this case: Report #"),
]
CREATED = {
    "https://leak-one.example/v/1",
    "https://leak-two.example/p/2",
    "https://facebook.com/fakeprofile/videos/111",
    "https://youtube.com/watch?v=FAKEVIDEO01",
}


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def rows_of(page: str) -> list[tuple[str, str, str, str]]:
    """(line, outcome, outcome column text, platform) of each preview row."""
    rows = []
    for outcome, body in re.findall(r'<tr class="outcome-(\w+)">(.*?)</tr>', page, re.S):
        cells = [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        rows.append((cells[0], outcome, cells[2], cells[4]))
    return rows


def hidden_fields(page: str, action: str) -> dict[str, str] | None:
    """The hidden fields of the form posting to ``action``, or None without such a form."""
    found = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S
    )
    if found is None:
        return None
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1)
        )
    }


def counts(db) -> tuple[int, int, int, int]:
    with db.session() as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Report, AuditEvent, Filing, ReportTransition)
        )


def case_with_one_report(client, people) -> int:
    case_id = new_case(client, people)
    response = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://leak-three.example/z"]},
        headers=people.auth("alice"),
    )
    assert response.status_code == 200, response.text
    return case_id


def preview(console: ConsoleClient, case_id: int, **fields) -> object:
    console.get(f"/cases/{case_id}/urls")
    return console.post(f"/cases/{case_id}/urls/preview", fields)


def test_the_form_offers_a_paste_a_file_and_the_choice(client, people):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    page = console.get(f"/cases/{case_id}/urls")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert '<textarea id="text" name="text"' in page.text
    assert 'type="file" accept=".csv"' in page.text
    assert 'name="allow_partial" value="true"' in page.text
    assert 'name="allow_partial" value="false"' in page.text
    assert "<title>Add addresses to case #" in page.text


def test_preview_gives_each_line_its_outcome_and_writes_nothing(client, people, db):
    case_id = case_with_one_report(client, people)
    console = signed_in(client, people, "alice")
    before = counts(db)

    page = preview(console, case_id, text=PASTE, allow_partial="true")

    assert page.status_code == 200, page.text
    rows = rows_of(page.text)
    assert [(line, outcome) for line, outcome, _, _ in rows] == [
        (line, outcome) for line, outcome, _ in EXPECTED
    ]
    for (line, _, said, _), (_, outcome, expected) in zip(rows, EXPECTED, strict=True):
        assert said.startswith(
            {"created": "Will be added", "duplicate": "Duplicate", "rejected": "Rejected"}[outcome]
        ), (line, said)
        assert expected in said, (line, said)
    platforms = {line: platform for line, _, _, platform in rows}
    assert (platforms["4"], platforms["5"], platforms["2"]) == (
        "facebook",
        "youtube",
        "Other website",
    )
    assert "4 will be added · 2 duplicates · 4 rejected" in text_of(page.text)
    assert counts(db) == before

    confirm = hidden_fields(page.text, f"/cases/{case_id}/urls")
    assert confirm is not None and confirm["allow_partial"] == "true"
    assert "Add 4 addresses" in page.text
    added = console.post(f"/cases/{case_id}/urls", confirm)

    assert added.status_code == 303
    assert added.headers["location"] == f"/cases/{case_id}?done=urls-added&created=4"
    with db.session() as session:
        urls = set(
            session.exec(select(Report.canonical_url).where(Report.case_id == case_id)).all()
        )
    assert urls == CREATED | {"https://leak-three.example/z"}
    assert counts(db)[0] == before[0] + 4


def test_all_or_nothing_with_a_rejected_line_offers_no_confirmation(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    before = counts(db)

    page = preview(console, case_id, text=PASTE, allow_partial="false")

    assert page.status_code == 200
    assert "Nothing will be added: 4 lines are rejected" in page.text
    assert hidden_fields(page.text, f"/cases/{case_id}/urls") is None
    switch = hidden_fields(page.text, f"/cases/{case_id}/urls/preview")
    assert switch is not None and switch["allow_partial"] == "true" and switch["text"] == PASTE
    forced = console.post(
        f"/cases/{case_id}/urls", {"text": PASTE, "csv_text": "", "allow_partial": "false"}
    )
    assert forced.status_code == 400
    assert "Nothing was added" in forced.text
    # Only the invalid addresses (no line without one): the intake itself refuses.
    only_bad = console.post(
        f"/cases/{case_id}/urls",
        {"text": "https://fine.example/a\nftp://files.example/b", "allow_partial": "false"},
    )
    assert only_bad.status_code == 400
    assert counts(db) == before

    switched = console.post(f"/cases/{case_id}/urls/preview", switch)
    assert switched.status_code == 200
    assert hidden_fields(switched.text, f"/cases/{case_id}/urls") is not None


def test_all_or_nothing_without_rejections_adds_everything(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    text = "https://fine.example/a\nsee https://fine.example/b!"
    page = preview(console, case_id, text=text, allow_partial="false")
    confirm = hidden_fields(page.text, f"/cases/{case_id}/urls")
    assert confirm == {
        "csrf_token": console.csrf,
        "text": text,
        "csv_text": "",
        "allow_partial": "false",
    }
    added = console.post(f"/cases/{case_id}/urls", confirm)
    assert added.headers["location"] == f"/cases/{case_id}?done=urls-added&created=2"


def test_csv_upload_with_a_header_row(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    before = counts(db)
    data = (
        b"url,notes,mirror\n"
        b"https://csv.example/1,first one,\n"
        b'"see https://csv.example/2 here",second,https://csv.example/3\n'
        b",,\n"
        b"nothing,at all,\n"
        b"https://csv.example/1/,again,\n"
    )
    console.get(f"/cases/{case_id}/urls")

    page = console.post(
        f"/cases/{case_id}/urls/preview",
        {"text": "", "allow_partial": "true"},
        files={"file": ("links.csv", data, "text/csv")},
    )

    assert page.status_code == 200, page.text
    assert [(line, outcome) for line, outcome, _, _ in rows_of(page.text)] == [
        ("CSV row 2", "created"),
        ("CSV row 3", "created"),
        ("CSV row 3", "created"),
        ("CSV row 5", "rejected"),
        ("CSV row 6", "duplicate"),
    ]
    assert "Same address as CSV row 2" in text_of(page.text)
    assert counts(db) == before
    confirm = hidden_fields(page.text, f"/cases/{case_id}/urls")
    assert confirm is not None and confirm["csv_text"] == data.decode()
    added = console.post(f"/cases/{case_id}/urls", confirm)
    assert added.headers["location"] == f"/cases/{case_id}?done=urls-added&created=3"


def test_an_unreadable_file_and_an_empty_form_are_refused_by_name(client, people):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    console.get(f"/cases/{case_id}/urls")
    binary = console.post(
        f"/cases/{case_id}/urls/preview",
        {"allow_partial": "true"},
        files={"file": ("photo.csv", b"\x89PNG\x00\x00", "text/csv")},
    )
    assert binary.status_code == 400
    assert "could not be read as a CSV file" in binary.text
    empty = console.post(f"/cases/{case_id}/urls/preview", {"text": "  \n\n"})
    assert empty.status_code == 400
    assert "Paste at least one address" in empty.text


def test_more_than_10000_lines_is_a_clear_message(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    before = counts(db)
    text = "\n".join(f"https://many.example/{number}" for number in range(10_001))
    page = preview(console, case_id, text=text, allow_partial="true")
    assert page.status_code == 400
    assert "This has 10001 lines with an address or text on them; at most 10000" in page.text
    assert "outcome-created" not in page.text
    assert (
        console.post(f"/cases/{case_id}/urls", {"text": text, "allow_partial": "true"}).status_code
        == 400
    )
    assert counts(db) == before


def test_held_reports_are_announced_before_confirming(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    console = signed_in(client, people, "alice")
    page = preview(console, case_id, text="https://held.example/1", allow_partial="true")
    assert page.status_code == 200
    assert "They will be logged but not filed yet." in page.text
    assert "Not filed: the case has no authority to act yet" in page.text


def test_a_closed_case_is_409_and_anothers_case_404(client, people, db):
    case_id = new_case(client, people)
    closed = client.patch(
        f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=people.auth("alice")
    )
    assert closed.status_code == 200, closed.text
    console = signed_in(client, people, "alice")
    assert console.get(f"/cases/{case_id}/urls").status_code == 409
    before = counts(db)
    refused = console.post(
        f"/cases/{case_id}/urls", {"text": "https://late.example/1", "allow_partial": "true"}
    )
    assert refused.status_code == 409
    assert (
        console.post(
            f"/cases/{case_id}/urls/preview", {"text": "https://late.example/1"}
        ).status_code
        == 409
    )

    others = new_case(client, people, who="alice")
    bob = signed_in(client, people, "bob")
    before = counts(db)
    assert bob.get(f"/cases/{others}/urls").status_code == 404
    assert (
        bob.post(
            f"/cases/{others}/urls", {"text": "https://bob.example/1", "allow_partial": "true"}
        ).status_code
        == 404
    )
    assert counts(db) == before


def test_api_dry_run_answers_like_the_real_call_and_writes_nothing(client, people, db):
    case_id = case_with_one_report(client, people)
    urls = [
        "https://dry.example/a",
        "https://dry.example/a/",
        "https://leak-three.example/z",
        "ftp://dry.example/b",
        "https://www.facebook.com/fakeprofile/videos/222",
    ]
    before = counts(db)
    dry = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": urls, "allow_partial": True, "dry_run": True},
        headers=people.auth("alice"),
    )
    assert dry.status_code == 200, dry.text
    assert counts(db) == before
    refused = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": urls, "dry_run": True},
        headers=people.auth("alice"),
    )
    assert refused.status_code == 422
    assert [problem["loc"] for problem in refused.json()["detail"]] == [["body", "urls", 3]]
    assert counts(db) == before

    real = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": urls, "allow_partial": True},
        headers=people.auth("alice"),
    )
    assert real.status_code == 200

    def without_new_ids(answer: dict) -> dict:
        return {
            **answer,
            "dry_run": None,
            "results": [
                {
                    **result,
                    "report_id": None if result["outcome"] == "created" else result["report_id"],
                }
                for result in answer["results"]
            ],
        }

    assert without_new_ids(dry.json()) == without_new_ids(real.json())
    assert dry.json()["dry_run"] is True and real.json()["dry_run"] is False
    assert [result["outcome"] for result in dry.json()["results"]] == [
        "created",
        "duplicate",
        "duplicate",
        "rejected",
        "created",
    ]
    assert dry.json()["results"][1]["duplicate_of"] == 0
    assert all(
        result["report_id"] is None
        for result in dry.json()["results"]
        if result["outcome"] == "created"
    )
    assert counts(db)[0] == before[0] + 2


def test_addresses_are_found_in_the_text_around_them():
    from tracker.reports.paste import urls_in

    assert urls_in("1) see https://x.example/v/1 (mirror)") == ["https://x.example/v/1"]
    assert urls_in('"https://w.example/Foo_(bar)".') == ["https://w.example/Foo_(bar)"]
    assert urls_in("[text](https://md.example/x), www.site.example!") == [
        "https://md.example/x",
        "www.site.example",
    ]
    assert urls_in("https://a.example/1,https://b.example/2") == [
        "https://a.example/1",
        "https://b.example/2",
    ]
    assert urls_in("https://a.example/r?u=https://b.example/2") == [
        "https://a.example/r?u=https://b.example/2"
    ]
    assert urls_in("notes.txt, e.g. version 1.5 javascript:alert(1)") == []
