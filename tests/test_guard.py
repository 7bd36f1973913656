"""Outbound request guard: address policy, per-hop checks and pinning, on real loopback servers."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workers.recheck.guard import (
    AddressPolicy,
    DestinationRefused,
    GuardedTransport,
    IPAddress,
    ResolutionFailed,
    address_class,
    is_public_address,
)
from workers.recheck.transport import FastTransport


class Handler(BaseHTTPRequestHandler):
    """Routes: /ok, /echo-host (body is the Host header), /relative, /redirect?to=<url>."""

    server: RecordingServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.hits.append((self.path, self.headers.get("Host", "")))
        if self.path.startswith("/redirect?to="):
            self._send(302, b"", location=self.path.removeprefix("/redirect?to="))
        elif self.path == "/relative":
            self._send(302, b"", location="/echo-host")
        elif self.path == "/echo-host":
            self._send(200, self.headers.get("Host", "").encode())
        else:
            self._send(200, b"ok")

    def _send(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), Handler)
        self.hits: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]


def serve(host: str, tls: ssl.SSLContext | None = None) -> Iterator[RecordingServer]:
    server = RecordingServer(host)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server_one() -> Iterator[RecordingServer]:
    yield from serve("127.0.0.1")


@pytest.fixture
def server_two() -> Iterator[RecordingServer]:
    yield from serve("127.0.0.2")


class FakeResolver:
    """Resolves only names it was given; records every lookup. Never touches real DNS."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.lookups: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append((host, port))
        if host not in self.names:
            raise OSError(f"fake resolver: unknown name {host}")
        return [ipaddress.ip_address(text) for text in self.names[host]]


#: The guard must hold over both inner transports: ours (pinned by address) and httpcore's
#: (pinned by a copy of the request addressed to the IP).
INNER = {"kind": "fast"}


@pytest.fixture(autouse=True, params=["fast", "httpcore"])
def inner_transport(request: pytest.FixtureRequest) -> Iterator[str]:
    INNER["kind"] = request.param
    yield request.param
    INNER["kind"] = "fast"


def client_for(
    allowlist: list[str], resolver: FakeResolver | None = None, **options: object
) -> httpx.AsyncClient:
    if INNER["kind"] == "httpcore":
        inner: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(**options)  # type: ignore[arg-type]
    else:
        inner = FastTransport(**options)  # type: ignore[arg-type]
    transport = GuardedTransport(
        policy=AddressPolicy(allowlist), resolver=resolver or FakeResolver({}), inner=inner
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=True,
        max_redirects=5,
        trust_env=False,
        timeout=httpx.Timeout(5.0),
    )


async def fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    async with client:
        return await client.get(url)


# --- policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "224.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.2.10",
        "192.0.0.192",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.5",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "2001:db8::1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "::7f00:1",  # IPv4-compatible 127.0.0.1
    ],
)
def test_policy_refuses_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(DestinationRefused):
        AddressPolicy([]).check("host.example.test", [ipaddress.ip_address(address)])


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"]
)
def test_policy_allows_public_addresses(address: str) -> None:
    AddressPolicy([]).check("public.example.test", [ipaddress.ip_address(address)])


def test_policy_refuses_when_any_address_is_private() -> None:
    addresses = [ipaddress.ip_address("1.1.1.1"), ipaddress.ip_address("10.0.0.5")]
    with pytest.raises(DestinationRefused) as refused:
        AddressPolicy([]).check("mixed.example.test", addresses)
    assert refused.value.address_class == "private"
    assert str(refused.value) == "destination refused by policy"


def test_policy_refuses_no_addresses() -> None:
    with pytest.raises(DestinationRefused):
        AddressPolicy([]).check("empty.example.test", [])


def test_policy_allowlist_by_network_address_and_host() -> None:
    policy = AddressPolicy(["127.0.0.0/30", "10.0.0.5", "Sandbox.Internal.test."])
    policy.check("a.example.test", [ipaddress.ip_address("127.0.0.2")])
    policy.check("a.example.test", [ipaddress.ip_address("10.0.0.5")])
    policy.check("a.example.test", [ipaddress.ip_address("::ffff:127.0.0.1")])
    policy.check("sandbox.internal.test", [ipaddress.ip_address("192.168.7.7")])
    with pytest.raises(DestinationRefused):
        policy.check("a.example.test", [ipaddress.ip_address("127.0.0.4")])
    with pytest.raises(DestinationRefused):
        policy.check("a.example.test", [ipaddress.ip_address("10.0.0.6")])


def test_metadata_address_refused_even_when_allowlisted() -> None:
    policy = AddressPolicy(["169.254.0.0/16", "metadata.example.test"])
    with pytest.raises(DestinationRefused) as refused:
        policy.check("metadata.example.test", [ipaddress.ip_address("169.254.169.254")])
    assert refused.value.address_class == "metadata"


# --- transport on real loopback servers --------------------------------------------------------


def test_allowlisted_loopback_address_passes(server_two: RecordingServer) -> None:
    client = client_for(["127.0.0.2"])
    response = asyncio.run(fetch(client, f"http://127.0.0.2:{server_two.port}/ok"))
    assert (response.status_code, response.text) == (200, "ok")
    assert server_two.hits == [("/ok", f"127.0.0.2:{server_two.port}")]


def test_redirect_to_other_loopback_address_is_refused(
    server_one: RecordingServer, server_two: RecordingServer
) -> None:
    target = f"http://127.0.0.1:{server_one.port}/ok"
    client = client_for(["127.0.0.2"])
    with pytest.raises(DestinationRefused) as refused:
        asyncio.run(fetch(client, f"http://127.0.0.2:{server_two.port}/redirect?to={target}"))
    assert refused.value.address_class == "loopback"
    assert [path for path, _host in server_two.hits] == [f"/redirect?to={target}"]
    assert server_one.hits == []


def test_loopback_refused_without_allowlist(server_one: RecordingServer) -> None:
    client = client_for([])
    with pytest.raises(DestinationRefused):
        asyncio.run(fetch(client, f"http://127.0.0.1:{server_one.port}/ok"))
    assert server_one.hits == []


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254", "::1", "::ffff:127.0.0.1"])
def test_host_name_resolving_to_private_address_is_refused(
    address: str, server_one: RecordingServer
) -> None:
    resolver = FakeResolver({"evil.example.test": [address]})
    client = client_for([], resolver)
    with pytest.raises(DestinationRefused):
        asyncio.run(fetch(client, f"http://evil.example.test:{server_one.port}/ok"))
    assert resolver.lookups == [("evil.example.test", server_one.port)]
    assert server_one.hits == []


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/", "http://0x7f.1/", "http://017700000001/", "http://127.1/"],
)
def test_numeric_host_forms_are_refused_before_resolution(url: str) -> None:
    resolver = FakeResolver({})
    client = client_for(["127.0.0.0/8"], resolver)
    with pytest.raises(DestinationRefused) as refused:
        asyncio.run(fetch(client, url))
    assert refused.value.address_class == "ambiguous_number"
    assert resolver.lookups == []


def test_unresolvable_host_is_a_connect_error() -> None:
    client = client_for([], FakeResolver({}))
    with pytest.raises(ResolutionFailed) as caught:
        asyncio.run(fetch(client, "http://nowhere.example.test/"))
    assert isinstance(caught.value, httpx.ConnectError)


def test_connection_is_pinned_to_the_checked_address(server_two: RecordingServer) -> None:
    resolver = FakeResolver({"sim.example.test": ["127.0.0.2"]})
    client = client_for(["127.0.0.2/32"], resolver)
    port = server_two.port

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with client:
            direct = await client.get(f"http://sim.example.test:{port}/echo-host")
            # A relative redirect must stay on the host name, not on the pinned IP.
            redirected = await client.get(f"http://sim.example.test:{port}/relative")
            return direct, redirected

    direct, redirected = asyncio.run(scenario())
    assert direct.text == f"sim.example.test:{port}"
    assert str(direct.url) == f"http://sim.example.test:{port}/echo-host"
    assert redirected.text == f"sim.example.test:{port}"
    assert str(redirected.url) == f"http://sim.example.test:{port}/echo-host"
    assert resolver.lookups == [("sim.example.test", port)] * 3
    assert [host for _path, host in server_two.hits] == [f"sim.example.test:{port}"] * 3


# --- https: the TLS server name and certificate check use the original host ------------------


def self_signed(host_name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[RecordingServer, ssl.SSLContext]]:
    certificate_pem, key_pem = self_signed("sim.example.test")
    (tmp_path / "cert.pem").write_bytes(certificate_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cadata=certificate_pem.decode())
    for server in serve("127.0.0.2", tls=server_context):
        yield server, client_context


def test_https_uses_original_host_for_sni_and_certificate(
    tls_server: tuple[RecordingServer, ssl.SSLContext],
) -> None:
    server, client_context = tls_server
    names = {"sim.example.test": ["127.0.0.2"], "other.example.test": ["127.0.0.2"]}
    client = client_for(["127.0.0.2"], FakeResolver(names), verify=client_context)
    response = asyncio.run(fetch(client, f"https://sim.example.test:{server.port}/echo-host"))
    assert response.text == f"sim.example.test:{server.port}"

    # The certificate names sim.example.test only: the check is against the host name, not the IP.
    client = client_for(["127.0.0.2"], FakeResolver(names), verify=client_context)
    with pytest.raises(httpx.ConnectError, match="(?i)certificate"):
        asyncio.run(fetch(client, f"https://other.example.test:{server.port}/echo-host"))


def test_decisions_are_cached_per_host_and_shared_by_concurrent_lookups(
    server_two: RecordingServer,
) -> None:
    now = [0.0]
    resolver = FakeResolver({"sim.example.test": ["127.0.0.2"], "evil.example.test": ["10.0.0.5"]})
    transport = GuardedTransport(
        policy=AddressPolicy(["127.0.0.2"]),
        resolver=resolver,
        inner=FastTransport(),
        decision_ttl=60.0,
        clock=lambda: now[0],
    )
    port = server_two.port

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            url = f"http://sim.example.test:{port}/echo-host"
            responses = await asyncio.gather(*(client.get(url) for _ in range(5)))
            assert {response.text for response in responses} == {f"sim.example.test:{port}"}
            for _ in range(2):  # a refusal is remembered too, and still refused
                with pytest.raises(DestinationRefused):
                    await client.get(f"http://evil.example.test:{port}/ok")
            now[0] = 61.0  # the decision expires: resolved and checked again
            await client.get(url)

    asyncio.run(scenario())
    assert resolver.lookups == [
        ("sim.example.test", port),
        ("evil.example.test", port),
        ("sim.example.test", port),
    ]
    assert len(server_two.hits) == 6


# --- refusals name no host and no address; the log says only the class -----------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.5", "private"),
        ("fd12::1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("100.64.0.1", "cgnat"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
        ("1.1.1.1", None),
        ("::ffff:1.1.1.1", None),
    ],
)
def test_one_classification_names_why_an_address_is_not_public(
    address: str, expected: str | None
) -> None:
    parsed = ipaddress.ip_address(address)
    assert address_class(parsed) == expected
    assert is_public_address(parsed) is (expected is None)


def test_refusal_text_hides_the_host_and_the_resolved_address(
    server_one: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = FakeResolver({"intranet-fake.example.test": ["10.0.0.1"]})
    client = client_for([], resolver)
    with caplog.at_level("DEBUG"), pytest.raises(DestinationRefused) as refused:
        asyncio.run(fetch(client, f"http://intranet-fake.example.test:{server_one.port}/ok"))
    assert str(refused.value) == "destination refused by policy"
    assert refused.value.reason == "destination refused by policy"
    assert refused.value.address_class == "private"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "outbound request refused by policy: private destination" in logged
    assert "10.0.0.1" not in logged and "intranet-fake" not in logged
