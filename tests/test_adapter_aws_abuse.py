"""AWS Abuse Signal adapter: SigV4, the XARF report, status and error mapping."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from harnesses import make_request, new_key
from harnesses.aws_abuse import aws_adapter, bucket_url, held_by_aws

from platform_adapters.aws_abuse import AwsAbuseAdapter
from platform_adapters.aws_sigv4 import Credentials, sign
from platform_adapters.base import (
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    PlatformStatus,
)
from platform_adapters.simulators.aws_abuse import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET,
    AwsAbuseServer,
)

EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EXAMPLE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


def filing(key: str, url: str):  # type: ignore[no-untyped-def]
    return make_request(key, url, rung_target="host_abuse", platform="aws")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # AWS's published SigV4 test suite: get-vanilla and get-vanilla-query-order-key-case.
        (
            "https://example.amazonaws.com/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
)
def test_sigv4_matches_the_published_vectors(url: str, expected: str) -> None:
    signed = sign(
        method="GET",
        url=url,
        headers={},
        body=b"",
        credentials=EXAMPLE,
        region="us-east-1",
        service="service",
        now=EXAMPLE_TIME,
    )

    assert signed["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={expected}"
    )


def test_xarf_report_names_the_organisation_never_a_person() -> None:
    adapter = aws_adapter("http://127.0.0.1:9", is_test=True)
    key = new_key()

    report = adapter.xarf_report(filing(key, bucket_url(key)))

    assert (report["xarf_version"], report["category"], report["type"]) == (
        "4.0.0",
        "content",
        "illegal",
    )
    assert report["url"] == bucket_url(key)
    assert report["source_identifier"] == "fake-bucket.s3.example"
    assert report["reporter"] == {
        "org": "Example Helpline (test)",
        "contact": "cases@helpline.example",
        "domain": "helpline.example",
    }
    assert report["tags"] == ["ncii", "lifecycle:test"]
    assert report["report_id"] == adapter.xarf_report(filing(key, bucket_url(key)))["report_id"]
    assert "Testperson" not in json.dumps(report)


@pytest.fixture(scope="module")
def paced_server() -> Iterator[AwsAbuseServer]:
    # Wide windows, so a loaded machine still sees every status on the way.
    with AwsAbuseServer(ack_after=0.4, decide_after=0.8) as server:
        yield server


@pytest.mark.parametrize(
    ("prefix", "status", "reason"),
    [
        ("v", PlatformStatus.REMOVED, "ACTIONED"),
        ("deny", PlatformStatus.REJECTED, "REVIEWED_NO_AWS_ACTION"),
        ("elsewhere", PlatformStatus.REJECTED, "NOT_RESOLVABLE_TO_AWS"),
    ],
)
def test_poll_follows_queued_processing_completed(
    paced_server: AwsAbuseServer, prefix: str, status: PlatformStatus, reason: str
) -> None:
    adapter = aws_adapter(paced_server.base_url)
    key = new_key()
    receipt = adapter.file(filing(key, bucket_url(key, prefix)))
    assert receipt.http_status == 202
    seen = [adapter.poll(receipt.external_ref or "")]

    deadline = time.monotonic() + 5
    while seen[-1].status not in (PlatformStatus.REMOVED, PlatformStatus.REJECTED):
        assert time.monotonic() < deadline, "the report never completed"
        time.sleep(0.05)
        polled = adapter.poll(receipt.external_ref or "")
        if polled.status is not seen[-1].status:
            seen.append(polled)

    assert [item.status for item in seen] == [
        PlatformStatus.SUBMITTED,
        PlatformStatus.ACKNOWLEDGED,
        status,
    ]
    assert (seen[-1].detail or "").startswith(reason)


def test_conflict_on_a_retry_recovers_the_report_by_correlation_id(
    aws_abuse_server: AwsAbuseServer,
) -> None:
    adapter = aws_adapter(aws_abuse_server.base_url)
    key = new_key()
    first = adapter.file(filing(key, bucket_url(key)))
    body = {"status": 409, "retry_after": None, "count": 1}
    httpx.post(f"{aws_abuse_server.base_url}/_sim/fail-next", json=body, timeout=5)

    again = adapter.file(filing(key, bucket_url(key)))

    assert (again.external_ref, again.http_status) == (first.external_ref, 409)
    assert held_by_aws(aws_abuse_server, bucket_url(key)) == 1


@pytest.mark.parametrize(
    ("access_key_id", "secret", "error_type"),
    [
        (DEFAULT_ACCESS_KEY_ID, "not-the-secret", "InvalidSignatureException"),
        ("AKIAUNKNOWNKEY000000", DEFAULT_SECRET, "UnrecognizedClientException"),
    ],
)
def test_bad_keys_are_invalid_credentials(
    aws_abuse_server: AwsAbuseServer, access_key_id: str, secret: str, error_type: str
) -> None:
    adapter = aws_adapter(aws_abuse_server.base_url, access_key_id=access_key_id, secret=secret)

    with pytest.raises(InvalidCredentialsError, match=error_type) as raised:
        adapter.file(filing(new_key(), bucket_url(new_key())))

    assert raised.value.http_status == 403


def test_unknown_report_is_permanent(aws_abuse_server: AwsAbuseServer) -> None:
    with pytest.raises(PermanentError, match="ResourceNotFoundException") as raised:
        aws_adapter(aws_abuse_server.base_url).poll("a" * 32)

    assert raised.value.http_status == 404


def signed_post(server: AwsAbuseServer, body: object) -> httpx.Response:
    content = json.dumps(body).encode()
    url = f"{server.base_url}/v1/abuse"
    headers = sign(
        method="POST",
        url=url,
        headers={"Content-Type": "application/json"},
        body=content,
        credentials=Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET),
        region="us-east-1",
        service="abuse",
        now=datetime.now(UTC),
    )
    return httpx.post(url, content=content, headers=headers, timeout=5)


def test_simulator_validates_the_documented_request(aws_abuse_server: AwsAbuseServer) -> None:
    key = new_key()
    report = aws_adapter(aws_abuse_server.base_url).xarf_report(filing(key, bucket_url(key)))
    without_url = {key_: value for key_, value in report.items() if key_ != "url"}

    missing_url = signed_post(aws_abuse_server, {"report": {"xarf": without_url}})
    bad_token = signed_post(aws_abuse_server, {"clientToken": "", "report": {"xarf": report}})
    two_members = signed_post(aws_abuse_server, {"report": {"xarf": report, "other": {}}})
    accepted = signed_post(aws_abuse_server, {"correlationId": "c-1", "report": {"xarf": report}})

    assert [response.status_code for response in (missing_url, bad_token, two_members)] == [400] * 3
    assert missing_url.headers["x-amzn-ErrorType"] == "ValidationException"
    assert missing_url.json() == {"message": "XARF report invalid: url"}
    assert accepted.status_code == 202
    assert accepted.json()["correlationId"] == "c-1"


def test_config_needs_stored_keys() -> None:
    settings = type("Settings", (), {"outbound_timeout_seconds": 3})()

    with pytest.raises(MissingCredentialsError, match="access_key_id and secret_access_key"):
        AwsAbuseAdapter.config_from(settings, {})
    config = AwsAbuseAdapter.config_from(
        settings,
        {"access_key_id": "AKIAFAKEFAKEFAKE0000", "secret_access_key": "s", "region": "eu-west-2"},
    )

    assert config.endpoint == "https://abuse.eu-west-2.amazonaws.com"
