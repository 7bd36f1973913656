"""HTTP endpoints: the channel directory (read-only) and channel credentials (admins)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from platform_adapters.directory import ChannelRoute, PlatformEntry
from platform_adapters.registry import ADAPTERS, enabled_adapters
from tracker.api.deps import AdminDep, Limit, Offset, PrincipalDep, SessionDep
from tracker.api.pages import Page, slice_page
from tracker.channels import directory
from tracker.channels.service import (
    delete_credentials,
    masked_config,
    save_credentials,
    stored_values,
)
from tracker.errors import NotFound
from tracker.settings import get_settings

router = APIRouter(tags=["channels"])

#: A platform or adapter slug as the directory and the registry spell them.
Slug = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,64}$", description="A slug, e.g. reddit")]


class ChannelPublic(BaseModel):
    target: str
    kind: str
    adapter: str
    via: str
    details: dict[str, Any] = Field(
        description="Address or form URL, policy category, required fields, whether a "
        "reference comes back, how status is learned, notes and sources."
    )


class PlatformPublic(BaseModel):
    slug: str
    name: str
    operator: str
    domains: list[str]
    url_patterns: list[str]
    channels: list[ChannelPublic]
    grievance_officer: dict[str, Any] | None
    source: str
    checked: str | None
    confidence: str


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(
        description="The adapter's config fields (see GET /channel-credentials); secrets are "
        "stored encrypted and never shown again."
    )


class CredentialsOut(BaseModel):
    adapter: str
    channel_kind: str
    is_configured: bool
    stored_fields: list[str]
    config: dict[str, Any] | None = Field(description="Effective config, secrets masked")


def channel_public(target: str, route: ChannelRoute) -> ChannelPublic:
    """The API view of one channel."""
    return ChannelPublic(
        target=target,
        kind=route.kind,
        adapter=route.adapter,
        via=route.via,
        details=dict(route.params),
    )


def _platform(entry: PlatformEntry) -> PlatformPublic:
    return PlatformPublic(
        slug=entry.slug,
        name=entry.name,
        operator=entry.operator,
        domains=list(entry.domains),
        url_patterns=list(entry.url_patterns),
        channels=[channel_public(target, route) for target, route in entry.channels],
        grievance_officer=dict(entry.grievance_officer) if entry.grievance_officer else None,
        source=entry.source,
        checked=entry.checked.isoformat() if entry.checked else None,
        confidence=entry.confidence,
    )


@router.get("/channels", response_model=Page[PlatformPublic])
def list_platforms(
    principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> Page[PlatformPublic]:
    """Every platform the directory knows, with its channels in escalation order."""
    return slice_page(list(directory().platforms.values()), _platform, limit=limit, offset=offset)


@router.get("/channels/intermediaries", response_model=Page[ChannelPublic])
def list_intermediaries(
    principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ChannelPublic]:
    """Where host, CDN, registrar and search rungs go when the platform has no own channel."""
    return slice_page(
        list(directory().intermediaries.items()),
        lambda item: channel_public(*item),
        limit=limit,
        offset=offset,
    )


@router.get("/channels/{platform}", response_model=PlatformPublic)
def read_platform(platform: Slug, principal: PrincipalDep) -> PlatformPublic:
    """One platform's entry."""
    entry = directory().platforms.get(platform)
    if entry is None:
        raise NotFound.one(
            ("path", "platform"), "no such platform in the directory", "channel.unknown_platform"
        )
    return _platform(entry)


def _credentials_out(session: SessionDep, organisation_id: int, adapter: str) -> CredentialsOut:
    values = stored_values(session=session, organisation_id=organisation_id, adapter=adapter)
    config = masked_config(settings=get_settings(), adapter=adapter, values=values)
    return CredentialsOut(
        adapter=adapter,
        channel_kind=ADAPTERS[adapter].channel_kind,
        is_configured=config is not None,
        stored_fields=sorted(values),
        config=config,
    )


@router.get("/channel-credentials", response_model=Page[CredentialsOut])
def list_credentials(
    session: SessionDep, principal: AdminDep, limit: Limit = 50, offset: Offset = 0
) -> Page[CredentialsOut]:
    """Each adapter's effective config for your organisation, secrets masked."""
    return slice_page(
        sorted(enabled_adapters(get_settings())),
        lambda slug: _credentials_out(session, principal.organisation_id, slug),
        limit=limit,
        offset=offset,
    )


@router.put("/channel-credentials/{adapter}", response_model=CredentialsOut)
def put_credentials(
    adapter: Slug, data: CredentialsIn, session: SessionDep, principal: AdminDep
) -> CredentialsOut:
    """Store an adapter's credentials (validated, encrypted at rest)."""
    save_credentials(
        session=session,
        settings=get_settings(),
        organisation_id=principal.organisation_id,
        adapter=adapter,
        values=data.values,
        actor=principal.actor,
    )
    session.commit()
    return _credentials_out(session, principal.organisation_id, adapter)


@router.delete("/channel-credentials/{adapter}", status_code=status.HTTP_204_NO_CONTENT)
def remove_credentials(adapter: Slug, session: SessionDep, principal: AdminDep) -> None:
    """Forget an adapter's stored credentials."""
    delete_credentials(
        session=session,
        organisation_id=principal.organisation_id,
        adapter=adapter,
        actor=principal.actor,
    )
    session.commit()
