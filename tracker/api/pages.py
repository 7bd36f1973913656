"""The one page envelope every list answers with: ``items``, ``total``, ``limit``, ``offset``."""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list, with the total the filters match."""

    items: list[Item]
    total: int = Field(ge=0, description="How many items match, across all pages")
    limit: int = Field(ge=1, description="The page size asked for")
    offset: int = Field(ge=0, description="Items skipped before this page")


def page_of(items: list[Item], *, total: int | None = None, limit: int, offset: int) -> Page[Item]:
    """A page; ``total`` defaults to the number of items (for lists that are never paged)."""
    return Page[Item](
        items=items, total=len(items) if total is None else total, limit=limit, offset=offset
    )
