"""The API contract: bounded ids, control characters, body limits, OpenAPI, pages, docs, logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from conftest import new_case

from tracker.api.contract import api_operations
from tracker.api.middleware import BodyLimitMiddleware
from tracker.api.pages import Page
from tracker.logs import ScrubFilter, configure_logging, scrub

HUGE = "99999999999999999999"


# -- item 8: ids and offsets are bounded in the schema -------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("get", f"/api/v1/cases/{HUGE}", None, ["path", "case_id"]),
        ("get", "/api/v1/cases/2147483648", None, ["path", "case_id"]),
        ("get", "/api/v1/cases/0", None, ["path", "case_id"]),
        ("get", f"/api/v1/reports/{HUGE}", None, ["path", "report_id"]),
        ("post", "/api/v1/filings/5149893013/confirm", {"reference_id": "R-1"}, None),
        ("get", f"/api/v1/cases?offset={HUGE}", None, ["query", "offset"]),
        ("get", f"/api/v1/reports?offset={HUGE}", None, ["query", "offset"]),
        ("get", f"/api/v1/reports?case_id={HUGE}", None, ["query", "case_id"]),
        ("get", f"/api/v1/cases?assigned_to={HUGE}", None, ["query", "assigned_to"]),
        ("get", f"/api/v1/notifications?offset={HUGE}", None, ["query", "offset"]),
    ],
)
def test_out_of_range_ids_and_offsets_are_422(client, people, method, path, body, loc):
    response = client.request(method, path, json=body, headers=people.auth("admin"))
    assert response.status_code == 422, response.text
    if loc is not None:
        assert response.json()["detail"][0]["loc"] == loc


def test_out_of_range_id_in_a_body_is_422(client, people):
    response = client.post(
        "/api/v1/cases",
        json={"label": "Case FAKE-1", "jurisdictions": ["TEST"], "assigned_to": int(HUGE)},
        headers=people.auth("admin"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "assigned_to"]


# -- item 9: control characters, blank labels, no parameters in logs ------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"label": "Case\x00FAKE", "jurisdictions": ["TEST"]}, ["body", "label"]),
        ({"label": "Case FAKE", "jurisdictions": ["TEST"], "notes": "a\x00b"}, ["body", "notes"]),
        (
            '{"label": "Case FAKE", "jurisdictions": ["TEST"], "notes": "\\ud800"}',
            ["body", "notes"],
        ),
        (
            {"label": "Case FAKE", "jurisdictions": ["TEST"], "contact": {"name": "x\x07"}},
            ["body", "contact", "name"],
        ),
        ({"label": "   ", "jurisdictions": ["TEST"]}, ["body", "label"]),
        ({"label": "Case\nFAKE", "jurisdictions": ["TEST"]}, ["body", "label"]),
        ({"label": "Case\tFAKE", "jurisdictions": ["TEST"]}, ["body", "label"]),
    ],
)
def test_control_characters_and_blank_labels_are_422(client, people, body, loc):
    # A lone surrogate cannot be encoded by the client: it is sent as the JSON escape.
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        "/api/v1/cases",
        content=raw,
        headers={**people.auth("alice"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc
    listing = client.get("/api/v1/cases", headers=people.auth("alice")).json()
    assert listing["total"] == 0  # nothing half-written


def test_control_characters_in_nested_lists_and_queries_are_422(client, people):
    case_id = new_case(client, people)
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://x.com/fake/status/1", "https://x.com/a\x00b"]},
        headers=people.auth("alice"),
    )
    assert intake.status_code == 422
    assert intake.json()["detail"][0]["loc"] == ["body", "urls", 1]
    query = client.get(
        "/api/v1/reports", params={"platform": "x\x00"}, headers=people.auth("alice")
    )
    assert query.status_code == 422
    assert query.json()["detail"][0]["loc"] == ["query", "platform"]
    credentials = client.put(
        "/api/v1/channel-credentials/reddit",
        json={"values": {"client_id": "a\x00"}},
        headers=people.auth("admin"),
    )
    assert credentials.status_code == 422
    assert credentials.json()["detail"][0]["loc"] == ["body", "values", "client_id"]


def test_multiline_notes_keep_their_line_breaks(client, people):
    notes = "first line\n\tsecond line\r\n"
    case_id = new_case(client, people, notes=notes, label="  Case FAKE-002  ")
    case = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice")).json()
    assert case["notes"] == notes
    assert case["label"] == "Case FAKE-002"


def test_database_errors_never_carry_parameters(db):
    from sqlalchemy import text

    assert db.engine.hide_parameters is True
    with pytest.raises(Exception) as caught, db.engine.connect() as connection:
        connection.execute(
            text("SELECT CAST(:value AS INTEGER) / 0 FROM nowhere"), {"value": "Case SECRET"}
        )
    assert "Case SECRET" not in str(caught.value)


def test_scrubbing_keeps_urls_contacts_and_keys_out_of_logs():
    line = scrub(
        "fetch https://leak.example/v/1?t=2 for victim@example.invalid +44 7700 900123 "
        "key tk_abcdefghijklmnop on cdn.leak.example/path; bücher.de leaksite.so x.com.py "
        "пример.рф victim@例え.jp 10.0.0.7 2001:db8::1 fe80::1%eth0 ::ffff:10.0.0.1 "
        "redis.victimsite.net tracker.victimsite.net example.com/v/clip.json"
    )
    for secret in (
        "leak.example",
        "victim@",
        "7700",
        "tk_abc",
        "bücher",
        "leaksite",
        "x.com",
        "пример",
        "例え",
        "10.0.0",
        "2001:",
        "fe80",
        "ffff",
        "victimsite",
        "example.com",
        "clip",
    ):
        assert secret not in line, secret
    # What is not a host, an address or a number stays readable.
    kept = "retrying in 0.2 s at 19:03:02; report 12 filed; see /tmp/data/encryption.key"
    assert scrub(kept) == kept


def test_an_unexpected_error_logs_no_url(caplog):
    handler_stream = io.StringIO()
    handler = logging.StreamHandler(handler_stream)
    handler.addFilter(ScrubFilter())
    logger = logging.getLogger("tracker.test_scrub")
    logger.addHandler(handler)
    try:
        target = "https://leak.example/private/video.mp4"
        try:
            raise ValueError(f"could not reach {target}")
        except ValueError:
            logger.exception("unhandled error while checking %s", "http://leak.example/x")
    finally:
        logger.removeHandler(handler)
    written = handler_stream.getvalue()
    assert "leak.example" not in written
    assert "ValueError: could not reach [url]" in written


# -- item 10: body limit before reading, capped error lists ---------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read():
    reads: list[int] = []

    async def app(scope, receive, send):  # pragma: no cover - must never be reached
        raise AssertionError("the app was called")

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    middleware = BodyLimitMiddleware(app, default_limit=1024 * 1024)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/cases",
        "headers": [(b"content-length", str(300 * 1024 * 1024).encode())],
    }
    asyncio.run(middleware(scope, receive, send))
    assert reads == []
    assert sent[0]["status"] == 413
    body = json.loads(sent[1]["body"])
    assert body["detail"][0]["type"] == "request.too_large"


def test_a_streamed_body_without_length_stops_at_the_limit():
    chunks_read = 0

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        raise AssertionError("read past the limit")

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 4096, "more_body": True}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    middleware = BodyLimitMiddleware(app, default_limit=10_000)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/cases", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert chunks_read == 3
    assert sent[0]["status"] == 413


def test_the_app_answers_413_with_the_envelope(client, people):
    response = client.post(
        "/api/v1/cases",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={**people.auth("alice"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_a_body_of_too_many_values_is_refused_before_validation(client, people):
    body = {"label": "Case FAKE", "jurisdictions": ["TEST"]} | {f"k{i}": i for i in range(60000)}
    response = client.post("/api/v1/cases", json=body, headers=people.auth("alice"))
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body"],
            "msg": "the body holds more than 2000 values",
            "type": "value_error.too_many_values",
        }
    ]
    case_id = new_case(client, people)
    urls = [f"https://x.com/fakeuser/status/{n}" for n in range(500)]
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth("alice")
    )
    assert intake.status_code == 200 and intake.json()["created"] == 500


def test_error_lists_are_capped(client, people):
    body = {"label": "Case FAKE", "jurisdictions": ["TEST"]} | {
        f"unknown{i}": i for i in range(500)
    }
    response = client.post("/api/v1/cases", json=body, headers=people.auth("alice"))
    assert response.status_code == 422
    assert len(response.json()["detail"]) == 20


# -- item 20: the OpenAPI document --------------------------------------------------------------


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_is_named_and_documents_its_errors(client):
    schema = client.get("/openapi.json").json()
    ids = [operation["operationId"] for _, _, operation in _operations(schema)]
    assert len(ids) == len(set(ids))
    assert "cases_list" in ids and "cases_read" in ids and "reports_add" in ids
    assert not [operation_id for operation_id in ids if "__" in operation_id]
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        if not path.startswith("/api/v1"):
            continue
        expected = {"401", "422", "429", "503"}
        if "{" in path:
            expected.add("404")
        if method in ("post", "put", "patch", "delete"):
            expected |= {"409", "413"}
        assert expected <= set(responses), (path, method, sorted(responses))
        for status in expected:
            assert responses[status]["content"]["application/json"]["schema"] == envelope
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["paths"]["/api/v1/cases"]["post"]["summary"] == "Open a case"
    cases_create = schema["paths"]["/api/v1/cases"]["post"]["responses"]
    assert "403" in cases_create  # dashboards may not open cases
    assert "429" in cases_create and "Retry-After" in cases_create["429"]["headers"]


def test_fields_that_take_known_values_are_enums(client):
    components = client.get("/openapi.json").json()["components"]["schemas"]
    filing = components["FilingPublic"]["properties"]
    assert components["FilingTrack"]["enum"] == ["ladder", "parallel"]
    assert "$ref" in filing["status"] and "$ref" in filing["channel_kind"]
    assert components["FilingStatus"]["enum"][0] == "pending"
    assert set(components["Verdict"]["enum"]) >= {"live", "removed", "blocked"}
    assert components["CheckPublic"]["properties"]["verdict"] == {
        "$ref": "#/components/schemas/Verdict"
    }
    assert "rungs" in components["Policy"]["properties"]
    assert components["ReportDetail"]["properties"]["policy"] == {
        "$ref": "#/components/schemas/Policy"
    }
    assert "fields" in components["WebformPacket"]["properties"]
    assert set(components["Summary"]["required"]) >= {"by_state", "overdue", "total"}


# -- item 21: one page envelope on every list ----------------------------------------------------


def test_every_list_answers_the_page_envelope(client, people):
    lists = [
        operation.path
        for operation in api_operations(client.app)
        if "GET" in operation.methods
        and operation.path.startswith("/api/v1")
        and "{" not in operation.path
        and isinstance(operation.route.response_model, type)
        and issubclass(operation.route.response_model, Page)
    ]
    assert {
        "/api/v1/cases",
        "/api/v1/reports",
        "/api/v1/filings",
        "/api/v1/users",
        "/api/v1/alerts",
        "/api/v1/policies",
        "/api/v1/channels",
        "/api/v1/channels/intermediaries",
        "/api/v1/channel-credentials",
        "/api/v1/notifications",
    } <= set(lists)
    for path in lists:
        body = client.get(f"{path}?limit=2&offset=0", headers=people.auth("admin")).json()
        assert set(body) == {"items", "total", "limit", "offset"}, path
        assert body["limit"] == 2 and len(body["items"]) <= 2, path
    channels = client.get("/api/v1/channels?limit=3&offset=2", headers=people.auth("admin")).json()
    assert channels["total"] > 5 and len(channels["items"]) == 3 and channels["offset"] == 2


# -- item 22: /docs works offline ---------------------------------------------------------------


def test_docs_load_nothing_from_elsewhere(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: a strict CSP works
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"):
        assert f"/docs-assets/{asset}" in page.text
        served = client.get(f"/docs-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 500, asset


# -- item 23: JSON logs with a request id -------------------------------------------------------


def test_json_logs_carry_the_request_id(client, capsys):
    def noisy() -> dict[str, str]:
        logging.getLogger("tracker.cases").info("listing cases at https://leak.example/x")
        return {"ok": "yes"}

    client.app.add_api_route("/test-logging", noisy)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("json")
    try:
        response = client.get("/test-logging", headers={"X-Request-ID": "req-test-0001"})
        assert response.headers["x-request-id"] == "req-test-0001"
        generated = client.get("/test-logging", headers={"X-Request-ID": "bad id\n"})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert len(generated.headers["x-request-id"]) == 32  # a bad offered id is replaced
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    entries = [line for line in lines if line["logger"] == "tracker.cases"]
    assert entries[0]["request_id"] == "req-test-0001"
    assert entries[1]["request_id"] == generated.headers["x-request-id"]
    assert entries[0]["message"] == "listing cases at [url]"
    assert entries[0]["level"] == "INFO" and "time" in entries[0]


# -- found by the review: spelling of the media type, nulls, echoes, one-line names ---------------


@pytest.mark.parametrize("media_type", ["application/JSON", "Application/Json; charset=UTF-8"])
def test_the_input_screen_reads_any_spelling_of_the_json_media_type(client, people, media_type):
    headers = {**people.auth("admin"), "Content-Type": media_type}
    nul = client.post(
        "/api/v1/users", content=b'{"display_name":"a\\u0000","role":"caseworker"}', headers=headers
    )
    assert nul.status_code == 422
    assert nul.json()["detail"][0]["loc"] == ["body", "display_name"]
    many = json.dumps({"label": "Case FAKE"} | {f"k{i}": i for i in range(3000)})
    crowded = client.post("/api/v1/cases", content=many, headers=headers)
    assert crowded.json()["detail"][0]["type"] == "value_error.too_many_values"


@pytest.mark.parametrize(
    "field", ["label", "status", "assigned_to", "authority_to_act", "minor_involved"]
)
def test_null_for_a_field_a_case_always_has_is_422_not_a_retry(client, people, field):
    case_id = new_case(client, people)
    response = client.patch(
        f"/api/v1/cases/{case_id}", json={field: None}, headers=people.auth("alice")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert response.json()["detail"][0]["type"] != "conflict.concurrent_change"


def test_errors_never_repeat_what_was_typed(client, people):
    contact = "victim@example.invalid"
    case = client.post(
        "/api/v1/cases",
        json={"label": "Case FAKE", "jurisdictions": [contact]},
        headers=people.auth("alice"),
    )
    assert case.status_code == 422
    assert case.json()["detail"][0]["loc"] == ["body", "jurisdictions", 0]
    adapter = client.put(
        f"/api/v1/channel-credentials/{contact}",
        json={"values": {}},
        headers=people.auth("admin"),
    )
    assert adapter.status_code == 422
    for answer in (case, adapter):
        assert contact not in answer.text and "victim" not in answer.text


@pytest.mark.parametrize("name", ["   ", "Test\nName", "Test\tName"])
def test_a_user_name_is_one_line_and_not_blank(client, people, name):
    response = client.post(
        "/api/v1/users",
        json={"display_name": name, "role": "caseworker"},
        headers=people.auth("admin"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "display_name"]


def test_a_body_on_any_request_is_bounded_and_documented(client, people):
    response = client.request(
        "GET", "/healthz", content=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 413
    schema = client.get("/openapi.json").json()
    assert "413" in schema["paths"]["/healthz"]["get"]["responses"]
    assert "413" in schema["paths"]["/api/v1/cases"]["get"]["responses"]
