"""HTTP endpoints for issuing, listing and revoking a case's status links."""

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from tracker.api.deps import CaseworkerDep, IdPath, Limit, Offset, SessionDep
from tracker.api.pages import Page, page_of
from tracker.status_links.models import StatusLink
from tracker.status_links.service import issue_link, list_links, require_link, revoke_link

router = APIRouter(tags=["status_links"])


class StatusLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(
        default="en",
        max_length=16,
        description="The page's language: en, hi (any the console speaks)",
    )
    show_platforms: bool = Field(
        default=False, description="Whether the page names the platforms (with counts)"
    )


class StatusLinkPublic(BaseModel):
    """A status link as listed: never its token, PIN or their hashes."""

    id: int
    case_id: int
    language: str
    show_platforms: bool
    created_by: int | None
    created_at: datetime
    revoked_at: datetime | None
    last_opened_at: datetime | None
    failed_attempts: int = Field(description="Wrong PINs since the last right one")
    locked_until: datetime | None = Field(description="Shut after too many wrong PINs until then")


class StatusLinkIssued(StatusLinkPublic):
    url: str = Field(description="The victim's page, relative (`/status/<token>`); shown once")
    pin: str = Field(description="The PIN that opens it (8 digits); shown once, stored hashed")
    replaced_link_id: int | None = Field(
        description="The case's earlier active link, revoked by this one (one active per case)"
    )


def _public(link: StatusLink) -> StatusLinkPublic:
    assert link.id is not None
    return StatusLinkPublic(
        id=link.id,
        case_id=link.case_id,
        language=link.language,
        show_platforms=link.show_platforms,
        created_by=link.created_by,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
        last_opened_at=link.last_opened_at,
        failed_attempts=link.failed_attempts,
        locked_until=link.locked_until,
    )


@router.post(
    "/cases/{case_id}/status-links",
    response_model=StatusLinkIssued,
    status_code=status.HTTP_201_CREATED,
)
def issue(
    case_id: IdPath, data: StatusLinkCreate, session: SessionDep, principal: CaseworkerDep
) -> StatusLinkIssued:
    """Issue the victim's status link and PIN (both shown once); the case's earlier active
    link, if any, is revoked (`replaced_link_id`). Audited, never with the token or PIN."""
    issued = issue_link(
        session=session,
        principal=principal,
        case_id=case_id,
        language=data.language,
        show_platforms=data.show_platforms,
    )
    session.commit()
    return StatusLinkIssued(
        **_public(issued.link).model_dump(),
        url=f"/status/{issued.token}",
        pin=issued.pin,
        replaced_link_id=issued.replaced_id,
    )


@router.get("/cases/{case_id}/status-links", response_model=Page[StatusLinkPublic])
def list_(
    case_id: IdPath,
    session: SessionDep,
    principal: CaseworkerDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[StatusLinkPublic]:
    """A case's status links, newest first, revoked ones included (never a token or PIN)."""
    links, total = list_links(
        session=session, principal=principal, case_id=case_id, limit=limit, offset=offset
    )
    return page_of([_public(link) for link in links], total=total, limit=limit, offset=offset)


@router.post("/status-links/{status_link_id}/revoke", response_model=StatusLinkPublic)
def revoke(
    status_link_id: IdPath, session: SessionDep, principal: CaseworkerDep
) -> StatusLinkPublic:
    """Revoke a status link: it stops opening at once. Audited."""
    link = require_link(session=session, principal=principal, link_id=status_link_id)
    revoke_link(session=session, principal=principal, link=link)
    session.commit()
    return _public(link)
