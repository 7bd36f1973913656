"""Adding a long list in the console: 10,000 pasted lines or CSV rows in one go, a preview that
counts what will be added and lists only the lines that will not be, then the real intake."""

from __future__ import annotations

import re

from conftest import new_case
from sqlalchemy import func
from sqlmodel import select
from test_console_intake import hidden_fields, rows_of, text_of

from tests.console_client import ConsoleClient, signed_in
from tracker.console.pages.intake import PROBLEM_LINES_SHOWN
from tracker.filings.models import Filing
from tracker.reports.models import Report, ReportTransition


def lines(count: int, prefix: str) -> list[str]:
    """``count`` distinct addresses on a documentation host and on Facebook, one per line."""
    return [
        f"https://{prefix}-leak.example/videos/{number}"
        if number % 2
        else f"see https://www.facebook.com/watch/?v={prefix}{number}"
        for number in range(count)
    ]


def written(db) -> tuple[int, int, int]:
    with db.session() as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Report, ReportTransition, Filing)
        )


def preview(console: ConsoleClient, case_id: int, **kwargs) -> object:
    console.get(f"/cases/{case_id}/urls")
    return console.post(f"/cases/{case_id}/urls/preview", **kwargs)


def test_ten_thousand_pasted_lines_preview_light_then_add_in_one_go(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    pasted = lines(10_000, "paste")
    pasted[5_000] = "no address on this line"
    pasted[9_999] = pasted[1]  # the same address again
    text = "\n".join(pasted)

    page = preview(console, case_id, data={"text": text, "allow_partial": "true"})

    assert page.status_code == 200, page.text[:500]
    said = text_of(page.text)
    assert "9998 will be added · 1 duplicate · 1 rejected" in said
    assert "The list has 10000 lines" in said
    # Only the two lines that will not be added are rows; the rest are counted by platform.
    assert [(line, outcome) for line, outcome, _, _ in rows_of(page.text)] == [
        ("5001", "rejected"),
        ("10000", "duplicate"),
    ]
    platforms = re.search(r'<table class="intake-platforms".*?</table>', page.text, re.S)
    assert platforms is not None
    assert text_of(platforms.group(0)) == "Platform Addresses facebook 4999 Other website 4999"
    assert written(db) == (0, 0, 0)

    confirm = hidden_fields(page.text, f"/cases/{case_id}/urls")
    assert confirm is not None and confirm["text"] == text
    added = console.post(f"/cases/{case_id}/urls", confirm)

    assert added.status_code == 303
    assert added.headers["location"] == f"/cases/{case_id}?done=urls-added&created=9998"
    assert written(db) == (9_998, 9_998, 9_998)


def test_a_csv_file_of_ten_thousand_rows(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    rows = ["address,notes"] + [
        f"{line.removeprefix('see ')},fake note" for line in lines(10_000, "csv")
    ]
    data = "\n".join(rows).encode()

    page = preview(
        console,
        case_id,
        data={"text": "", "allow_partial": "false"},
        files={"file": ("links.csv", data, "text/csv")},
    )

    assert page.status_code == 200, page.text[:500]
    assert "10000 will be added · 0 duplicates · 0 rejected" in text_of(page.text)
    assert "Every line will be added." in page.text
    assert rows_of(page.text) == []
    confirm = hidden_fields(page.text, f"/cases/{case_id}/urls")
    assert confirm is not None and confirm["allow_partial"] == "false"
    added = console.post(f"/cases/{case_id}/urls", confirm)
    assert added.headers["location"] == f"/cases/{case_id}?done=urls-added&created=10000"
    assert written(db) == (10_000, 10_000, 10_000)


def test_one_rejected_line_of_ten_thousand_adds_nothing_when_all_or_nothing(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    pasted = lines(10_000, "all")
    pasted[7_000] = "ftp://files.example/leak"
    text = "\n".join(pasted)

    page = preview(console, case_id, data={"text": text, "allow_partial": "false"})

    assert page.status_code == 200
    assert "Nothing will be added: 1 line is rejected" in page.text
    assert hidden_fields(page.text, f"/cases/{case_id}/urls") is None
    assert rows_of(page.text)[0][:2] == ("7001", "rejected")
    forced = console.post(
        f"/cases/{case_id}/urls", {"text": text, "csv_text": "", "allow_partial": "false"}
    )
    assert forced.status_code == 400
    assert "Nothing was added" in forced.text
    assert written(db) == (0, 0, 0)


def test_a_long_list_lists_at_most_so_many_lines_that_will_not_be_added(client, people, db):
    case_id = new_case(client, people)
    console = signed_in(client, people, "alice")
    bad = PROBLEM_LINES_SHOWN + 200
    pasted = lines(1_000, "few") + [f"ftp://files.example/{number}" for number in range(bad)]

    page = preview(console, case_id, data={"text": "\n".join(pasted), "allow_partial": "true"})

    assert page.status_code == 200
    shown = rows_of(page.text)
    assert len(shown) == PROBLEM_LINES_SHOWN
    assert {outcome for _, outcome, _, _ in shown} == {"rejected"}
    assert shown[0][0] == "1001"
    assert f"{PROBLEM_LINES_SHOWN} of them are listed; 200 more are not shown" in text_of(page.text)
