"""Bounds of database row ids and offsets, shared by request schemas (4xx, never a 500)."""

from typing import Annotated

from pydantic import Field

# PostgreSQL ``integer`` (and what SQLite is asked to hold): a larger id cannot exist.
MAX_ROW_ID = 2**31 - 1
# No list is larger than this; a larger offset is a mistake, not a page.
MAX_OFFSET = 10_000_000

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
