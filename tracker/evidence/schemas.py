"""Response shapes for evidence (uploads come as multipart forms)."""

from datetime import datetime

from pydantic import BaseModel, Field

from tracker.evidence.models import EvidenceKind


class EvidencePublic(BaseModel):
    """One piece of evidence: its record, never its content."""

    id: int
    case_id: int
    report_id: int | None
    kind: EvidenceKind
    media_type: str = Field(description="Sniffed from the content, never from the upload's name")
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the content, hex")
    captured_at: datetime
    captured_by: str
    description: str | None = Field(
        description="Sealed with the case's key; null once the case's data was erased"
    )
    purged_at: datetime | None
