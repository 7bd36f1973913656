"""Request and response shapes for cases."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tracker.cases.models import CaseStatus
from tracker.ids import RowId
from tracker.text import OneLine

#: A jurisdiction code: letters, digits and hyphens (an error may name it: nothing else fits).
Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{2,16}$")]


class ContactDetails(BaseModel):
    """How to reach the victim. Stored encrypted; never logged or sent to platforms."""

    model_config = ConfigDict(extra="forbid")

    name: OneLine | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+() .-]{3,40}$")


class CaseBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: OneLine = Field(
        min_length=1,
        max_length=120,
        description="A pseudonymous label for the case. Never the victim's name.",
    )
    jurisdictions: list[Jurisdiction] = Field(
        min_length=1,
        max_length=5,
        description="Jurisdiction codes whose law applies, e.g. ['IN'], ['US'], ['INTL'].",
    )
    authority_to_act: bool = Field(
        default=False,
        description="The victim has authorised the organisation to file on their behalf. "
        "Nothing is filed until this is true.",
    )
    consent_to_share_identity: bool = False
    minor_involved: bool = False


class CaseCreate(CaseBase):
    assigned_to: RowId | None = Field(
        default=None, description="User id of the caseworker; defaults to the creator."
    )
    contact: ContactDetails | None = None
    notes: str | None = Field(default=None, max_length=5000)


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Left out: unchanged. None of these may be null: a case always has them.
    label: OneLine = Field(default=None, min_length=1, max_length=120)  # type: ignore[assignment]
    status: CaseStatus = None  # type: ignore[assignment]
    assigned_to: RowId = None  # type: ignore[assignment]
    authority_to_act: bool = None  # type: ignore[assignment]
    consent_to_share_identity: bool = None  # type: ignore[assignment]
    minor_involved: bool = None  # type: ignore[assignment]
    exports_allowed: bool = Field(  # type: ignore[assignment]
        default=None,
        description="Whether the case's bundle may be exported. Anyone who may change the case "
        "may turn it off; only a supervisor or admin may turn it back on.",
    )
    contact: ContactDetails | None = None
    notes: str | None = Field(default=None, max_length=5000)


class CasePublic(CaseBase):
    """A case as listed: no contact details."""

    id: int
    status: CaseStatus
    assigned_to: int | None
    exports_allowed: bool = True
    created_at: datetime
    updated_at: datetime
    report_count: int = 0


class CaseDetail(CasePublic):
    """One case in full, for the caseworkers who may see it."""

    contact: ContactDetails | None
    notes: str | None
