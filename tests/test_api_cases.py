"""Cases through the API: roles, visibility, validation, the one error envelope."""

from __future__ import annotations

from conftest import new_case


def test_caseworker_creates_and_reads_own_case(client, people):
    case_id = new_case(client, people, contact={"name": "Fake Person", "email": "x@fake.example"})
    response = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice"))
    assert response.status_code == 200
    body = response.json()
    assert body["assigned_to"] == people.ids["alice"]
    assert body["jurisdictions"] == ["TEST"]
    assert body["contact"] == {"name": "Fake Person", "email": "x@fake.example", "phone": None}


def test_caseworker_gets_404_for_another_caseworkers_case(client, people):
    case_id = new_case(client, people, who="alice")
    response = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("bob"))
    assert response.status_code == 404
    assert response.json() == {
        "detail": [{"loc": ["path", "case_id"], "msg": "case not found", "type": "case.not_found"}]
    }
    listing = client.get("/api/v1/cases", headers=people.auth("bob")).json()
    assert listing["total"] == 0 and listing["items"] == []


def test_supervisor_sees_all_cases_of_the_organisation_only(client, people):
    first = new_case(client, people, who="alice")
    second = new_case(client, people, who="bob")
    listing = client.get("/api/v1/cases", headers=people.auth("supervisor")).json()
    assert sorted(item["id"] for item in listing["items"]) == sorted([first, second])
    assert listing["total"] == 2
    other = client.get(f"/api/v1/cases/{first}", headers=people.auth("outsider"))
    assert other.status_code == 404


def test_dashboard_key_gets_403_on_case_data_but_reads_the_summary(client, people):
    case_id = new_case(client, people)
    for path in ("/api/v1/cases", f"/api/v1/cases/{case_id}", "/api/v1/reports", "/api/v1/filings"):
        response = client.get(path, headers=people.auth("dashboard"))
        assert response.status_code == 403, path
        assert response.json()["detail"][0]["type"] == "auth.forbidden"
    summary = client.get("/api/v1/summary", headers=people.auth("dashboard"))
    assert summary.status_code == 200
    assert summary.json()["total"] == 0


def test_missing_and_bad_api_keys_are_401_in_the_envelope(client, people):
    missing = client.get("/api/v1/cases")
    assert missing.status_code == 401
    assert missing.json()["detail"][0]["type"] == "auth.unauthenticated"
    assert missing.json()["detail"][0]["loc"] == ["header", "authorization"]
    bad = client.get("/api/v1/cases", headers={"Authorization": "Bearer tk_not-a-real-key"})
    assert bad.status_code == 401


def test_bad_json_is_422_in_the_envelope(client, people):
    response = client.post(
        "/api/v1/cases",
        content=b'{"label": "x", ',
        headers={**people.auth("alice"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["type"] == "json_invalid"
    assert problem["loc"][0] == "body"


def test_bad_fields_are_named_and_nothing_is_echoed(client, people):
    response = client.post(
        "/api/v1/cases",
        json={"label": "", "jurisdictions": [], "contact": {"email": "not-an-email-fake"}},
        headers=people.auth("alice"),
    )
    assert response.status_code == 422
    problems = response.json()["detail"]
    locs = {tuple(problem["loc"]) for problem in problems}
    assert ("body", "label") in locs
    assert ("body", "jurisdictions") in locs
    assert ("body", "contact", "email") in locs
    assert "not-an-email-fake" not in response.text  # inputs are never echoed back
    for problem in problems:
        assert set(problem) == {"loc", "msg", "type"}


def test_unknown_jurisdiction_is_named(client, people):
    response = client.post(
        "/api/v1/cases",
        json={"label": "Case FAKE-2", "jurisdictions": ["TEST", "ZZ"]},
        headers=people.auth("alice"),
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "jurisdictions", 1],
            "msg": "no policy is in force for jurisdiction 'ZZ'",
            "type": "case.unknown_jurisdiction",
        }
    ]


def test_caseworker_cannot_assign_to_someone_else(client, people):
    response = client.post(
        "/api/v1/cases",
        json={"label": "Case FAKE-3", "jurisdictions": ["IN"], "assigned_to": people.ids["bob"]},
        headers=people.auth("alice"),
    )
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "assigned_to"]


def test_supervisor_reassigns_and_visibility_follows(client, people):
    case_id = new_case(client, people, who="alice")
    response = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"assigned_to": people.ids["bob"]},
        headers=people.auth("supervisor"),
    )
    assert response.status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}", headers=people.auth("bob")).status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}", headers=people.auth("alice")).status_code == 404


def test_case_list_filters_and_paginates(client, people):
    ids = [new_case(client, people, label=f"Case FAKE-{n}") for n in range(3)]
    new_case(client, people, jurisdictions=["IN"])
    page = client.get(
        "/api/v1/cases?jurisdiction=TEST&limit=2&offset=0", headers=people.auth("alice")
    ).json()
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == sorted(ids, reverse=True)[:2]
    bad = client.get("/api/v1/cases?limit=0", headers=people.auth("alice"))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "limit"]


def test_unknown_field_in_update_is_refused(client, people):
    case_id = new_case(client, people)
    response = client.patch(
        f"/api/v1/cases/{case_id}", json={"owner": 3}, headers=people.auth("alice")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "owner"]


def test_admin_creates_user_and_key_works_once_shown(client, people):
    response = client.post(
        "/api/v1/users",
        json={"display_name": "New Worker", "role": "caseworker"},
        headers=people.auth("admin"),
    )
    assert response.status_code == 201
    key = response.json()["api_key"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["role"] == "caseworker"
    refused = client.post(
        "/api/v1/users",
        json={"display_name": "X", "role": "admin"},
        headers=people.auth("supervisor"),
    )
    assert refused.status_code == 403
