"""One contract suite over every adapter, against real loopback servers, plus each one's errors."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import EntryPoint
from types import SimpleNamespace

import httpx
import pytest
from harnesses import (
    DEADLINE_TEXT,
    FAKE_VICTIM_NAME,
    FROM_ADDRESS,
    HARNESSES,
    LEGAL_BASIS,
    ORGANISATION_EMAIL,
    ORGANISATION_NAME,
    SIMULATED,
    Harness,
    make_request,
    new_key,
)
from harnesses.email import SMTP_PASSWORD, SMTP_USER, email_adapter
from harnesses.sandbox import sandbox_adapter
from pydantic import SecretStr
from smtp_sink import SmtpSink

from platform_adapters.base import (
    AdapterConfig,
    ChannelKind,
    FetchedPage,
    FilingReceipt,
    FilingStatus,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    PlatformStatus,
    TransientError,
    Verdict,
)
from platform_adapters.manual import ManualAdapter, ManualConfig
from platform_adapters.registry import (
    ADAPTERS,
    BUILT_IN,
    ENTRY_POINT_GROUP,
    PluginError,
    UnknownAdapter,
    adapter_class,
    build_adapter,
    load_adapters,
)
from platform_adapters.simulators.sandbox import SandboxServer
from tracker.settings import Settings


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- real loopback servers --------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


# --- the contract -----------------------------------------------------------------------------


@pytest.fixture(params=sorted(ADAPTERS))
def harness(request: pytest.FixtureRequest) -> Harness:
    """Every registered adapter, through its harness (a missing harness fails here)."""
    return HARNESSES[request.param](request)


def test_adapter_declares_its_identity(harness: Harness) -> None:
    adapter_type = type(harness.adapter)

    assert ADAPTERS[adapter_type.slug] is adapter_type
    assert isinstance(adapter_type.channel_kind, ChannelKind)
    assert issubclass(adapter_type.config_model, AdapterConfig)
    assert isinstance(harness.adapter.config, adapter_type.config_model)


def test_file_returns_a_typed_receipt(harness: Harness) -> None:
    receipt = harness.adapter.file(harness.request_for(new_key()))

    assert isinstance(receipt, FilingReceipt)
    assert receipt.channel_kind is type(harness.adapter).channel_kind
    if receipt.awaiting_manual:
        assert receipt.packet and receipt.external_ref is None
    else:
        assert receipt.external_ref
        assert receipt.submitted_at is not None
        assert receipt.submitted_at.utcoffset() == timedelta(0)


def test_poll_returns_a_typed_status(harness: Harness) -> None:
    request = harness.request_for(new_key())
    receipt = harness.adapter.file(request)

    status = harness.adapter.poll(receipt.external_ref or request.idempotency_key)

    assert isinstance(status, FilingStatus)
    assert isinstance(status.status, PlatformStatus)
    if type(harness.adapter).can_poll:
        assert status.status is not PlatformStatus.UNKNOWN
    else:
        assert status.status is PlatformStatus.UNKNOWN


def test_same_key_filed_twice_is_one_filing(harness: Harness) -> None:
    key = new_key()

    first = harness.adapter.file(harness.request_for(key))
    second = harness.adapter.file(harness.request_for(key))

    assert first.external_ref == second.external_ref
    assert first.packet == second.packet
    if harness.filings_held is not None:
        assert harness.filings_held(harness.request_for(key)) == 1


def test_classify_leaves_other_platforms_pages_alone(harness: Harness) -> None:
    page = FetchedPage(
        url="https://unrelated.example/item/1",
        final_url="https://unrelated.example/item/1",
        status_code=200,
        headers={"content-type": "text/html"},
        body_prefix="<html><head><title>This content isn't available</title></head></html>",
    )

    assert harness.adapter.classify(page) is None


# --- the contract under platform failures (adapters whose simulator can inject them) ---------


@pytest.fixture(params=sorted(SIMULATED))
def simulated(request: pytest.FixtureRequest) -> Harness:
    """Every adapter whose harness runs a simulator that can inject platform failures."""
    return HARNESSES[request.param](request)


def failing(harness: Harness) -> Callable[[int, float | None], None]:
    """The harness's failure injector."""
    assert harness.inject_failure is not None, "a simulated harness must inject failures"
    return harness.inject_failure


def test_every_api_adapter_is_tested_against_a_simulator() -> None:
    api_adapters = {slug for slug, adapter in ADAPTERS.items() if adapter.channel_kind == "api"}
    assert api_adapters <= SIMULATED


def test_platform_unavailable_is_transient(simulated: Harness) -> None:
    harness = simulated
    failing(harness)(503, None)

    with pytest.raises(TransientError) as raised:
        harness.adapter.file(harness.request_for(new_key()))

    assert raised.value.http_status == 503


def test_platform_throttling_carries_retry_after(simulated: Harness) -> None:
    harness = simulated
    failing(harness)(429, 7)

    with pytest.raises(TransientError) as raised:
        harness.adapter.file(harness.request_for(new_key()))

    assert (raised.value.http_status, raised.value.retry_after) == (429, 7)


def test_platform_refusing_credentials_disables_the_channel(simulated: Harness) -> None:
    harness = simulated
    failing(harness)(401, None)

    with pytest.raises((InvalidCredentialsError, MissingCredentialsError)) as raised:
        harness.adapter.file(harness.request_for(new_key()))

    assert raised.value.http_status == 401


def test_retried_filing_after_a_failure_is_one_filing(simulated: Harness) -> None:
    harness = simulated
    inject = failing(harness)
    key = new_key()
    inject(503, 1)
    with pytest.raises(TransientError):
        harness.adapter.file(harness.request_for(key))

    first = harness.adapter.file(harness.request_for(key))
    second = harness.adapter.file(harness.request_for(key))

    assert first.external_ref == second.external_ref
    if harness.filings_held is not None:
        assert harness.filings_held(harness.request_for(key)) == 1


# --- registry ---------------------------------------------------------------------------------


#: Fake stored credentials for the adapters whose credentials only an admin can store.
STORED_ONLY_CREDENTIALS: dict[str, dict[str, str]] = {
    "cloudflare": {"account_id": "0123456789abcdef", "api_token": "fake-cloudflare-token"},
    "aws_abuse": {"access_key_id": "AKIAFAKEFAKEFAKE0000", "secret_access_key": "fake-secret"},
    "reddit": {
        "client_id": "fake-client",
        "client_secret": "fake-secret",
        "username": "fake_bot",
        "password": "fake-password",
    },
}


def test_registry_builds_every_adapter_from_settings() -> None:
    settings = Settings(sandbox_base_url="http://127.0.0.1:9", smtp_port=2526)

    for slug, adapter_type in ADAPTERS.items():
        if slug in STORED_ONLY_CREDENTIALS:
            # Their keys are never in settings: without stored ones the channel is disabled.
            with pytest.raises(MissingCredentialsError):
                build_adapter(slug, settings)
            adapter = build_adapter(slug, settings, STORED_ONLY_CREDENTIALS[slug])
        else:
            adapter = build_adapter(slug, settings)
        assert type(adapter) is adapter_type
        assert isinstance(adapter.config, adapter_type.config_model)
    email_config = build_adapter("email", settings).config
    assert (email_config.smtp_port, email_config.from_address) == (
        2526,
        settings.organisation_email,
    )


def test_stored_credentials_override_settings() -> None:
    settings = SimpleNamespace(
        sandbox_enabled=True,
        sandbox_base_url="http://127.0.0.1:9",
        sandbox_api_token=SecretStr("from-settings"),
        outbound_timeout_seconds=3,
    )

    config = build_adapter("sandbox", settings, {"api_token": "from-store"}).config

    assert config.api_token.get_secret_value() == "from-store"
    assert config.base_url == "http://127.0.0.1:9"
    assert "from-store" not in repr(config)  # secrets are masked on read


class PluginAdapter(ManualAdapter):
    slug = "plugin-fake"


def entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_plugin_entry_points_register_adapters() -> None:
    adapters = load_adapters(BUILT_IN, [entry_point("fake", f"{__name__}:PluginAdapter")])

    assert adapters["plugin-fake"] is PluginAdapter
    assert set(adapters) == {adapter.slug for adapter in BUILT_IN} | {"plugin-fake"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no_such_module_fake:Adapter", "failed to load: ModuleNotFoundError"),
        (f"{__name__}:entry_point", "is not an Adapter subclass"),
        ("platform_adapters.manual:ManualAdapter", "reuses the slug 'manual'"),
    ],
)
def test_a_broken_plugin_fails_loudly(value: str, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        load_adapters(BUILT_IN, [entry_point("broken", value)])


def test_unknown_slug_is_a_clear_lookup_error() -> None:
    with pytest.raises(UnknownAdapter, match="no adapter with slug 'fax'") as raised:
        adapter_class("fax")

    assert isinstance(raised.value, LookupError)


# --- sandbox: status and error mapping --------------------------------------------------------


def sandbox_url(server: SandboxServer, prefix: str) -> str:
    return f"{server.base_url}/videos/{prefix}-{new_key()[:10]}"


def test_sandbox_flaky_platform_is_transient_then_files_once(sandbox_server: SandboxServer) -> None:
    adapter = sandbox_adapter(sandbox_server.base_url)
    request = make_request(new_key(), sandbox_url(sandbox_server, "flaky"))

    for _ in range(2):
        with pytest.raises(TransientError) as raised:
            adapter.file(request)
        assert (raised.value.http_status, raised.value.retry_after) == (503, 1)
    receipt = adapter.file(request)

    assert receipt.http_status == 201
    stats = httpx.get(f"{sandbox_server.base_url}/_sim/stats", timeout=5).json()
    assert stats["report_posts"][request.url] == 3


def test_sandbox_wrong_token_is_invalid_credentials(sandbox_server: SandboxServer) -> None:
    adapter = sandbox_adapter(sandbox_server.base_url, token="not-the-token")

    with pytest.raises(InvalidCredentialsError) as raised:
        adapter.file(make_request(new_key(), sandbox_url(sandbox_server, "comply")))

    assert raised.value.http_status == 401


def test_sandbox_validation_failure_is_permanent(sandbox_server: SandboxServer) -> None:
    adapter = sandbox_adapter(sandbox_server.base_url)

    with pytest.raises(PermanentError, match="url not on this platform") as raised:
        adapter.file(make_request(new_key(), "https://elsewhere.example/videos/comply-x"))

    assert raised.value.http_status == 422


def test_sandbox_unsupported_rung_is_permanent_without_a_request() -> None:
    adapter = sandbox_adapter(f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(PermanentError, match="host_abuse"):
        adapter.file(make_request(new_key(), "http://127.0.0.1/videos/x", rung_target="host_abuse"))


def test_sandbox_closed_port_is_transient() -> None:
    adapter = sandbox_adapter(f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(TransientError):
        adapter.file(make_request(new_key(), "http://127.0.0.1/videos/comply-x"))
    with pytest.raises(TransientError):
        adapter.poll("SBX-1")


def test_sandbox_silent_server_times_out_as_transient() -> None:
    with socket.socket() as silent:
        # Listening without ever accepting: the connection opens but no answer comes.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        adapter = sandbox_adapter(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2)

        with pytest.raises(TransientError, match="timed out"):
            adapter.file(make_request(new_key(), "http://127.0.0.1/videos/comply-x"))


@pytest.mark.parametrize(
    ("prefix", "final_status"),
    [("comply", PlatformStatus.REMOVED), ("reject", PlatformStatus.REJECTED)],
)
def test_sandbox_poll_follows_the_platform_decision(
    sandbox_server: SandboxServer, prefix: str, final_status: PlatformStatus
) -> None:
    adapter = sandbox_adapter(sandbox_server.base_url)
    receipt = adapter.file(make_request(new_key(), sandbox_url(sandbox_server, prefix)))
    assert receipt.external_ref is not None

    wait_until(lambda: adapter.poll(receipt.external_ref).status is final_status)

    status = adapter.poll(receipt.external_ref)
    assert status.http_status == 200
    assert (status.detail is not None) == (final_status is PlatformStatus.REJECTED)


def test_sandbox_poll_of_unknown_report_is_permanent(sandbox_server: SandboxServer) -> None:
    with pytest.raises(PermanentError) as raised:
        sandbox_adapter(sandbox_server.base_url).poll("SBX-424242")

    assert raised.value.http_status == 404


def test_sandbox_classify_recognises_its_soft_404(sandbox_server: SandboxServer) -> None:
    adapter = sandbox_adapter(sandbox_server.base_url)
    request = make_request(new_key(), sandbox_url(sandbox_server, "soft"))
    receipt = adapter.file(request)

    def fetch() -> FetchedPage:
        response = httpx.get(request.url, timeout=5)
        return FetchedPage(
            url=request.url,
            final_url=str(response.url),
            status_code=response.status_code,
            headers=dict(response.headers),
            body_prefix=response.text[:4096],
        )

    assert adapter.classify(fetch()) is None
    wait_until(lambda: adapter.poll(receipt.external_ref).status is PlatformStatus.REMOVED)

    page = fetch()
    assert page.status_code == 200
    assert adapter.classify(page) is Verdict.REMOVED


# --- e-mail: the notice and error mapping -----------------------------------------------------


def test_email_notice_states_the_request_and_nothing_about_the_person(smtp_sink: SmtpSink) -> None:
    key = new_key()
    address = f"abuse-{key}@host.example"
    request = make_request(key, f"https://files.example/v/{key}", address=address)

    receipt = email_adapter(smtp_sink.port).file(request)

    [message] = smtp_sink.handler.sent_to(address)
    body = message.get_content()
    assert receipt.external_ref == message["Message-ID"] == f"<{key}@takedown-tracker>"
    assert key in message["Subject"]
    assert message["From"] == FROM_ADDRESS
    for expected in ("non-consensual intimate imagery", LEGAL_BASIS, DEADLINE_TEXT, request.url):
        assert expected in " ".join(body.split()) or expected in body
    assert f"Reference: {key}" in body
    assert f"{ORGANISATION_NAME} acts on behalf of the affected person" in " ".join(body.split())
    assert FAKE_VICTIM_NAME not in message.as_string()
    mentioned = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", message.as_string()))
    assert mentioned <= {FROM_ADDRESS, ORGANISATION_EMAIL, address}


@pytest.mark.parametrize(
    ("local_part", "error_type"),
    [("refuse-550", PermanentError), ("defer-451", TransientError)],
)
def test_email_refused_recipient_maps_by_smtp_code(
    smtp_sink: SmtpSink, local_part: str, error_type: type[Exception]
) -> None:
    request = make_request(
        new_key(), "https://files.example/v/1", address=f"{local_part}@x.example"
    )

    with pytest.raises(error_type, match="recipient refused"):
        email_adapter(smtp_sink.port).file(request)


def test_email_server_down_is_transient() -> None:
    request = make_request(new_key(), "https://files.example/v/1", address="abuse@x.example")

    with pytest.raises(TransientError):
        email_adapter(closed_port()).file(request)


def test_email_without_an_address_is_permanent(smtp_sink: SmtpSink) -> None:
    with pytest.raises(PermanentError, match="no abuse address for this channel"):
        email_adapter(smtp_sink.port).file(make_request(new_key(), "https://files.example/v/1"))


def test_email_address_with_a_line_break_is_refused(smtp_sink: SmtpSink) -> None:
    address = "abuse@x.example\r\nBcc: someone@else.example"
    request = make_request(new_key(), "https://files.example/v/1", address=address)

    with pytest.raises(PermanentError):
        email_adapter(smtp_sink.port).file(request)


def test_email_credentials_are_used_and_checked(smtp_sink: SmtpSink) -> None:
    key = new_key()
    address = f"abuse-{key}@host.example"
    request = make_request(key, "https://files.example/v/1", address=address)

    good = email_adapter(smtp_sink.port, username=SMTP_USER, password=SecretStr(SMTP_PASSWORD))
    good.file(request)
    assert len(smtp_sink.handler.sent_to(address)) == 1

    wrong = email_adapter(smtp_sink.port, username=SMTP_USER, password=SecretStr("wrong"))
    with pytest.raises(InvalidCredentialsError):
        wrong.file(request)
    with pytest.raises(MissingCredentialsError):
        email_adapter(smtp_sink.port, username=SMTP_USER).file(request)


def test_email_reference_for_an_awkward_key_is_a_stable_digest(smtp_sink: SmtpSink) -> None:
    key = f"filing 7 / rung 2 <{new_key()}>"
    request = make_request(key, "https://files.example/v/1", address=f"abuse-{new_key()}@x.example")
    adapter = email_adapter(smtp_sink.port)

    first, second = adapter.file(request), adapter.file(request)

    assert first.external_ref == second.external_ref
    assert re.fullmatch(r"<[0-9a-f]{40}@takedown-tracker>", first.external_ref or "")


# --- manual: the packet -----------------------------------------------------------------------


def test_manual_packet_is_complete_and_ordered() -> None:
    key = new_key()
    request = make_request(key, "https://social.example/p/1", form_url="https://social.example/f")

    packet = ManualAdapter(ManualConfig()).file(request).packet

    assert packet is not None
    assert [field["name"] for field in packet["fields"]] == [
        "Content URL",
        "Reason",
        "Legal basis",
        "Statement of authority",
        "Contact e-mail",
        "Reference",
    ]
    values = {field["name"]: field["value"] for field in packet["fields"]}
    assert values["Content URL"] == request.url
    assert values["Legal basis"] == LEGAL_BASIS
    assert values["Reference"] == key
    assert values["Contact e-mail"] == ORGANISATION_EMAIL
    assert packet["form_url"] == "https://social.example/f"
    assert packet["policy_category"] == "Non-consensual intimate imagery"
    assert ORGANISATION_NAME in packet["statement_of_authority"]
    instructions = packet["instructions"].lower()
    assert "record the platform's reference id in the tracker afterwards" in instructions


def test_manual_packet_takes_the_channel_policy_category() -> None:
    request = make_request(new_key(), "https://social.example/p/1", policy_category="Nudity")

    packet = ManualAdapter(ManualConfig()).file(request).packet

    assert packet is not None
    assert (packet["form_url"], packet["policy_category"]) == (None, "Nudity")
