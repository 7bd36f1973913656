"""Cloudflare adapter: exact reports, batching, id recovery, status and error mapping."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
from harnesses import make_request, new_key
from harnesses.cloudflare import cloudflare_adapter, held_by_cloudflare, leaked_url
from pydantic import SecretStr

from platform_adapters.base import (
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    PlatformStatus,
)
from platform_adapters.cloudflare import (
    CloudflareAdapter,
    batch_urls,
    cloudflare_networks,
    is_served_by_cloudflare,
)
from platform_adapters.simulators.cloudflare import DEFAULT_ACCOUNT, CloudflareServer


def filing(key: str, url: str, **params: object):  # type: ignore[no-untyped-def]
    return make_request(key, url, rung_target="host_abuse", platform="cloudflare", **params)


def stored_reports(server: CloudflareServer) -> list:  # type: ignore[type-arg]
    return server.app.state.cloudflare.listed()


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str) -> Sequence[str]:
        return list(addresses)

    return resolve


def test_report_body_is_the_documented_anonymous_ncsei_report(
    cloudflare_server: CloudflareServer,
) -> None:
    key = new_key()
    url = leaked_url(key)

    receipt = cloudflare_adapter(cloudflare_server.api_base).file(filing(key, url))

    report = next(
        item for item in stored_reports(cloudflare_server) if item.id == receipt.external_ref
    )
    body = report.body
    assert body["act"] == "abuse_ncsei"
    assert body["urls"] == url
    assert (body["host_notification"], body["owner_notification"]) == ("send-anon", "send-anon")
    assert body["email"] == body["email2"] == "cases@helpline.example"
    assert body["name"] == "Example Helpline (test)"
    assert body["ncsei_subject_representation"] is False
    assert key in body["comments"]
    assert receipt.http_status == 200


def test_batch_urls_groups_per_host_at_most_250() -> None:
    many = [f"https://a.example/{number}" for number in range(260)]
    urls = [*many, "https://b.example/1", "https://a.example/0"]

    batches = batch_urls(urls)

    assert [len(batch) for batch in batches] == [250, 10, 1]
    assert batches[2] == ["https://b.example/1"]
    assert sum(batches, []).count("https://a.example/0") == 1


def test_a_batch_of_one_host_is_one_report(cloudflare_server: CloudflareServer) -> None:
    key = new_key()
    urls = [leaked_url(key, prefix) for prefix in ("a", "b", "c")]

    receipt = cloudflare_adapter(cloudflare_server.api_base).file(filing(key, urls[0], urls=urls))

    report = next(
        item for item in stored_reports(cloudflare_server) if item.id == receipt.external_ref
    )
    assert report.body["urls"].split("\n") == urls
    assert all(held_by_cloudflare(cloudflare_server, url) == 1 for url in urls)


def test_urls_on_two_hosts_are_refused_before_any_request() -> None:
    adapter = cloudflare_adapter("http://127.0.0.1:9/client/v4")
    urls = ["https://one.example/a", "https://two.example/b"]

    with pytest.raises(PermanentError, match="one host"):
        adapter.file(filing(new_key(), urls[0], urls=urls))


@pytest.fixture(scope="module")
def paced_server() -> Iterator[CloudflareServer]:
    # A wide window, so a loaded machine still sees the undecided status first.
    with CloudflareServer(decide_after=0.8) as server:
        yield server


@pytest.mark.parametrize(
    ("prefix", "status", "detail"),
    [
        ("v", PlatformStatus.ACKNOWLEDGED, None),
        ("deny", PlatformStatus.REJECTED, "no_abuse_found"),
        ("gone", PlatformStatus.REMOVED, "content_removed"),
    ],
)
def test_poll_maps_the_submitter_status(
    paced_server: CloudflareServer, prefix: str, status: PlatformStatus, detail: str | None
) -> None:
    adapter = cloudflare_adapter(paced_server.api_base)
    receipt = adapter.file(filing(new_key(), leaked_url(new_key(), prefix)))
    assert adapter.poll(receipt.external_ref or "").status is PlatformStatus.SUBMITTED

    deadline = time.monotonic() + 5
    while (polled := adapter.poll(receipt.external_ref or "")).status is PlatformStatus.SUBMITTED:
        assert time.monotonic() < deadline, "the report was never decided"
        time.sleep(0.05)

    assert (polled.status, polled.detail) == (status, detail)


@pytest.fixture()
def slow_listing_server() -> Iterator[CloudflareServer]:
    with CloudflareServer(decide_after=0.1, listing_delay=1.5) as server:
        yield server


def test_unlisted_report_gets_a_pending_reference_that_poll_resolves(
    slow_listing_server: CloudflareServer,
) -> None:
    adapter = cloudflare_adapter(slow_listing_server.api_base)
    key = new_key()
    url = leaked_url(key)

    receipt = adapter.file(filing(key, url))

    assert receipt.external_ref == f"pending:{key}:{url}"
    assert adapter.poll(receipt.external_ref).status is PlatformStatus.SUBMITTED
    time.sleep(1.6)
    resolved = adapter.poll(receipt.external_ref)
    report_id = stored_reports(slow_listing_server)[0].id
    assert (resolved.status, resolved.detail) == (
        PlatformStatus.ACKNOWLEDGED,
        f"report {report_id}",
    )


def test_wrong_token_and_unentitled_account_are_invalid_credentials(
    cloudflare_server: CloudflareServer,
) -> None:
    request = filing(new_key(), leaked_url(new_key()))
    wrong_token = cloudflare_adapter(cloudflare_server.api_base, token="not-the-token")
    other_account = cloudflare_adapter(cloudflare_server.api_base, account_id="f" * 32)

    with pytest.raises(InvalidCredentialsError, match="Authentication error") as refused:
        wrong_token.file(request)
    with pytest.raises(InvalidCredentialsError, match="not entitled") as unentitled:
        other_account.file(request)

    assert (refused.value.http_status, unentitled.value.http_status) == (403, 401)


def test_other_client_errors_are_permanent_with_the_api_message(
    cloudflare_server: CloudflareServer,
) -> None:
    body = {"status": 400, "retry_after": None, "count": 1}
    httpx.post(f"{cloudflare_server.base_url}/_sim/fail-next", json=body, timeout=5)

    with pytest.raises(PermanentError, match="injected failure") as raised:
        cloudflare_adapter(cloudflare_server.api_base).file(
            filing(new_key(), leaked_url(new_key()))
        )

    assert raised.value.http_status == 400


def test_simulator_refuses_reports_breaking_the_documented_rules(
    cloudflare_server: CloudflareServer,
) -> None:
    urls = "\n".join(f"https://many.example/{number}" for number in range(251))
    body = {
        "act": "abuse_ncsei",
        "email": "cases@helpline.example",
        "email2": "cases@helpline.example",
        "name": "Example Helpline (test)",
        "urls": urls,
        "host_notification": "send-anon",
        "owner_notification": "send-anon",
        "ncsei_subject_representation": False,
    }
    account = f"{cloudflare_server.api_base}/accounts/{DEFAULT_ACCOUNT}"
    url = f"{account}/abuse-reports/abuse_ncsei"
    headers = {"Authorization": "Bearer cloudflare-test-token"}

    too_many = httpx.post(url, json=body, headers=headers, timeout=5)
    bad_enum = httpx.post(
        url,
        json=body | {"urls": "https://x.example/1", "host_notification": "none"},
        headers=headers,
        timeout=5,
    )

    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["message"] == "urls must list 1 to 250 URLs"
    assert too_many.json()["success"] is False and too_many.json()["result"] is None
    assert bad_enum.status_code == 400
    assert bad_enum.json()["errors"][0]["message"].startswith("host_notification")


def test_served_by_cloudflare_checks_every_address() -> None:
    assert len(cloudflare_networks()) == 22
    assert is_served_by_cloudflare("x.example", resolving_to("104.16.1.1", "2606:4700::6810:1"))
    assert not is_served_by_cloudflare("x.example", resolving_to("104.16.1.1", "192.0.2.10"))
    assert not is_served_by_cloudflare("x.example", resolving_to())


def test_host_not_on_cloudflare_is_refused_unless_the_check_is_skipped(
    cloudflare_server: CloudflareServer,
) -> None:
    adapter = cloudflare_adapter(
        cloudflare_server.api_base, verify=True, resolver=resolving_to("192.0.2.10")
    )
    key = new_key()
    url = leaked_url(key)

    with pytest.raises(PermanentError, match="not served by Cloudflare"):
        adapter.file(filing(key, url))
    assert held_by_cloudflare(cloudflare_server, url) == 0

    adapter.file(filing(key, url, skip_network_check=True))
    assert held_by_cloudflare(cloudflare_server, url) == 1


def test_config_needs_stored_account_and_token() -> None:
    settings = type("Settings", (), {"outbound_timeout_seconds": 3})()

    with pytest.raises(MissingCredentialsError, match="account_id and api_token"):
        CloudflareAdapter.config_from(settings, {})
    config = CloudflareAdapter.config_from(settings, {"account_id": "abc", "api_token": "t"})

    assert (config.account_id, config.timeout_seconds) == ("abc", 3)
    assert isinstance(config.api_token, SecretStr)
