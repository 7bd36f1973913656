"""Channel credentials: validated against the adapter's config, stored encrypted, read masked."""

import json
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from platform_adapters.base import AdapterError
from platform_adapters.registry import UnknownAdapter, adapter_class, build_config
from tracker.audit.service import record
from tracker.channels.models import ChannelCredential
from tracker.db import utcnow
from tracker.errors import Invalid, NotFound, Problem
from tracker.settings import Settings


def stored_values(*, session: Session, organisation_id: int, adapter: str) -> dict[str, Any]:
    """The decrypted stored values for an adapter, or {} when none are stored."""
    row = session.exec(
        select(ChannelCredential).where(
            ChannelCredential.organisation_id == organisation_id,
            ChannelCredential.adapter == adapter,
        )
    ).first()
    return dict(json.loads(row.values)) if row is not None else {}


def masked_config(
    *, settings: Settings, adapter: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The effective config with secrets masked; None when it is not complete yet."""
    try:
        return build_config(adapter, settings, values).model_dump(mode="json")
    except (AdapterError, ValidationError):
        return None


def _require_adapter(adapter: str) -> None:
    try:
        adapter_class(adapter)
    except UnknownAdapter as error:
        raise NotFound.one(("path", "adapter"), str(error), "channel.unknown_adapter") from None


def save_credentials(
    *,
    session: Session,
    settings: Settings,
    organisation_id: int,
    adapter: str,
    values: dict[str, Any],
    actor: str,
) -> dict[str, Any]:
    """Validate ``values`` as the adapter's config and store them encrypted; returns masked."""
    _require_adapter(adapter)
    try:
        config = build_config(adapter, settings, values)
    except ValidationError as error:
        raise Invalid(
            [
                Problem(
                    loc=("body", "values", *item["loc"]),
                    msg=item["msg"],
                    type=f"channel.{item['type']}",
                )
                for item in error.errors()
            ]
        ) from None
    except AdapterError as error:
        raise Invalid.one(("body", "values"), error.message, f"channel.{error.kind}") from None
    # Store what was given (not the settings it was merged with), secrets in clear inside the
    # encrypted column so the adapter can use them.
    document = json.dumps(values, sort_keys=True)
    row = session.exec(
        select(ChannelCredential).where(
            ChannelCredential.organisation_id == organisation_id,
            ChannelCredential.adapter == adapter,
        )
    ).first()
    if row is None:
        row = ChannelCredential(
            organisation_id=organisation_id, adapter=adapter, values=document, updated_by=actor
        )
    else:
        row.values, row.updated_by, row.updated_at = document, actor, utcnow()
    session.add(row)
    record(
        session=session,
        actor=actor,
        action="channel.credentials_saved",
        object_type="channel",
        object_id=None,
        organisation_id=organisation_id,
        details={"adapter": adapter, "fields": sorted(values)},
    )
    return config.model_dump(mode="json")


def delete_credentials(*, session: Session, organisation_id: int, adapter: str, actor: str) -> None:
    """Forget the stored values of an adapter."""
    _require_adapter(adapter)
    row = session.exec(
        select(ChannelCredential).where(
            ChannelCredential.organisation_id == organisation_id,
            ChannelCredential.adapter == adapter,
        )
    ).first()
    if row is None:
        raise NotFound.one(("path", "adapter"), "no stored credentials", "channel.no_credentials")
    session.delete(row)
    record(
        session=session,
        actor=actor,
        action="channel.credentials_deleted",
        object_type="channel",
        object_id=None,
        organisation_id=organisation_id,
        details={"adapter": adapter},
    )
