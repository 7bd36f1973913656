"""A local RDAP server (RFC 9083 shapes) on loopback, shared by the RDAP tests and harness.

Answers are realistic but fake: a domain whose registrar entity carries a nested abuse entity
(the ICANN RDAP profile), an ARIN-style network whose abuse entity hangs under the holding
organisation, and a RIPE-style network with a top-level abuse entity. Some names and addresses
trigger errors: ``ratelimited.example`` (429), ``broken.example`` (503), ``203.0.113.99`` (slow).
It also serves bootstrap files under ``/bootstrap/`` for ``refresh_bootstrap``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from platform_adapters.simulators.runner import LoopbackServer

RDAP_JSON = "application/rdap+json"
REGISTRAR_ABUSE_EMAIL = "abuse@registrar.example"
HOSTING_ABUSE_EMAIL = "abuse@hosting.example"
NETWORK_ABUSE_EMAIL = "abuse@network.example"
SLOW_ADDRESS = "203.0.113.99"
BOOTSTRAP_ENTRIES = {
    "dns.json": "example",
    "ipv4.json": "192.0.2.0/24",
    "ipv6.json": "2001:db8::/32",
}


def jcard(*properties: list[Any]) -> list[Any]:
    """A jCard (RFC 7095) with a version and the given properties."""
    return ["vcard", [["version", {}, "text", "4.0"], *properties]]


def domain_answer(name: str, *, with_abuse: bool = True) -> dict[str, Any]:
    """A registry answer for ``name``: registrant redacted, registrar with a nested abuse entity."""
    registrar_entities = []
    if with_abuse:
        registrar_entities.append(
            {
                "objectClassName": "entity",
                "roles": ["abuse"],
                "vcardArray": jcard(
                    ["fn", {}, "text", "Abuse Desk"],
                    ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"],
                    ["email", {}, "text", REGISTRAR_ABUSE_EMAIL],
                ),
            }
        )
    return {
        "objectClassName": "domain",
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_1"],
        "handle": f"{name.upper()}-EXAMPLE",
        "ldhName": name,
        "status": ["client transfer prohibited"],
        "entities": [
            {
                "objectClassName": "entity",
                "roles": ["registrant"],
                # Redacted for privacy, as registries do: no e-mail here must ever be chosen.
                "vcardArray": jcard(["fn", {}, "text", ""]),
            },
            {
                "objectClassName": "entity",
                "roles": ["technical"],
                "vcardArray": jcard(["email", {}, "text", "tech@registrant.example"]),
            },
            {
                "objectClassName": "entity",
                "handle": "9999",
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
                "vcardArray": jcard(["fn", {}, "text", "Example Registrar, Inc."]),
                "entities": registrar_entities,
            },
        ],
        "events": [{"eventAction": "registration", "eventDate": "2020-01-01T00:00:00Z"}],
    }


def arin_style_network(address: str) -> dict[str, Any]:
    """A network whose abuse contact is nested under the organisation holding it."""
    return {
        "objectClassName": "ip network",
        "handle": "NET-192-0-2-0-1",
        "startAddress": "192.0.2.0",
        "endAddress": "192.0.2.255",
        "ipVersion": "v4",
        "name": "EXAMPLE-HOSTING",
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "EXH",
                "roles": ["registrant"],
                "vcardArray": jcard(
                    ["fn", {}, "text", "Example Hosting LLC"],
                    ["kind", {}, "text", "org"],
                ),
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["technical"],
                        "vcardArray": jcard(["email", {}, "text", "noc@hosting.example"]),
                    },
                    {
                        "objectClassName": "entity",
                        "roles": ["abuse"],
                        "vcardArray": jcard(
                            ["fn", {}, "text", "Example Hosting Abuse"],
                            ["org", {}, "text", "Example Hosting LLC"],
                            ["email", {}, "text", HOSTING_ABUSE_EMAIL],
                        ),
                    },
                ],
            }
        ],
    }


def ripe_style_network(address: str) -> dict[str, Any]:
    """A network with a top-level abuse entity (the RIPE database's ``abuse-c``)."""
    return {
        "objectClassName": "ip network",
        "handle": "198.51.100.0 - 198.51.100.255",
        "startAddress": "198.51.100.0",
        "endAddress": "198.51.100.255",
        "ipVersion": "v4",
        "entities": [
            {
                "objectClassName": "entity",
                "roles": ["abuse"],
                "vcardArray": jcard(
                    ["fn", {}, "text", "Network Abuse"],
                    ["email", {"type": "abuse"}, "text", NETWORK_ABUSE_EMAIL],
                ),
            }
        ],
    }


def not_found() -> JSONResponse:
    """RDAP's error shape (RFC 9083 §6)."""
    body = {"errorCode": 404, "title": "Not Found", "description": ["No such object"]}
    return JSONResponse(body, status_code=404, media_type=RDAP_JSON)


def create_app() -> FastAPI:
    """The RDAP app; ``app.state.paths`` records every path asked for."""
    app = FastAPI()
    app.state.paths = []

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        app.state.paths.append(request.url.path)
        return await call_next(request)

    @app.get("/domain/{name}")
    async def domain(name: str) -> Any:
        if name == "ratelimited.example":
            return JSONResponse({}, status_code=429, headers={"Retry-After": "7"})
        if name == "broken.example":
            return PlainTextResponse("upstream failure", status_code=503)
        if name == "noabuse.example":
            return JSONResponse(domain_answer(name, with_abuse=False), media_type=RDAP_JSON)
        if name.endswith(".example") and not name.startswith("unknown"):
            return JSONResponse(domain_answer(name), media_type=RDAP_JSON)
        return not_found()

    @app.get("/ip/{address}")
    async def network(address: str) -> Any:
        if address == SLOW_ADDRESS:
            await asyncio.sleep(1.5)
        if address.startswith("192.0.2."):
            return JSONResponse(arin_style_network(address), media_type=RDAP_JSON)
        if address.startswith("198.51.100."):
            return JSONResponse(ripe_style_network(address), media_type=RDAP_JSON)
        return not_found()

    @app.get("/bootstrap/{name}")
    async def bootstrap(name: str) -> Any:
        return JSONResponse(
            {
                "version": "1.0",
                "publication": "2026-11-23T00:00:00Z",
                "description": f"test bootstrap {name}",
                "services": [[[BOOTSTRAP_ENTRIES.get(name, "")], ["http://127.0.0.1:1/"]]],
            }
        )

    @app.get("/not-bootstrap/{name}")
    async def not_bootstrap(name: str) -> Any:
        return JSONResponse({"hello": "world"})

    return app


class RdapServer(LoopbackServer):
    """The local RDAP server in a background thread; use as a context manager."""

    def __init__(self) -> None:
        super().__init__(create_app(), name="rdap-server")

    @property
    def paths(self) -> list[str]:
        """Every request path the server has seen."""
        return list(self.app.state.paths)
