"""The shape of a policy file: a jurisdiction's escalation ladder with each rung's deadline."""

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RungTarget = Literal[
    "platform",
    "grievance_officer",
    "host",
    "cdn",
    "registrar",
    "search",
    "regulator",
    # Child-protection routes, for cases where the person shown was a minor (CSAM):
    "ncmec",  # NCMEC: CyberTipline reports, Take It Down hashing
    "iwf",  # Internet Watch Foundation
    "ncrp_child",  # India's National Cyber Crime Reporting Portal, child category
]


class Rung(BaseModel):
    """One step of the ladder: where to file and how long the recipient has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: RungTarget
    deadline: timedelta = Field(description="ISO 8601 duration, e.g. PT24H")
    legal_basis: str
    clock: Literal["receipt", "confirmation"] = "receipt"
    note: str | None = None


class ParallelTrack(BaseModel):
    """A channel filed alongside the ladder once a report is not removed quickly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: RungTarget
    start_after: timedelta = Field(description="after the first filing, e.g. PT24H")
    deadline: timedelta
    legal_basis: str


class Policy(BaseModel):
    """One version of one jurisdiction's policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    version: int = Field(ge=1)
    jurisdiction: str = Field(pattern=r"^[A-Za-z0-9-]{2,16}$")
    title: str
    effective_from: date
    source: str
    confidence: Literal["confirmed", "secondary", "unconfirmed"] = "confirmed"
    rungs: tuple[Rung, ...] = Field(min_length=1)
    parallel: tuple[ParallelTrack, ...] = ()
