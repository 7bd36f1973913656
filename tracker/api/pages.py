"""The one page envelope every list answers with: ``items``, ``total``, ``limit``, ``offset``."""

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

Item = TypeVar("Item")
Row = TypeVar("Row")


class Page(BaseModel, Generic[Item]):
    """One page of a list, with the total the filters match."""

    items: list[Item]
    total: int = Field(ge=0, description="How many items match, across all pages")
    limit: int = Field(ge=1, description="The page size asked for")
    offset: int = Field(ge=0, description="Items skipped before this page")


def page_of(items: list[Item], *, total: int, limit: int, offset: int) -> Page[Item]:
    """A page of items already cut by the query, with the total the query matched."""
    return Page[Item](items=items, total=total, limit=limit, offset=offset)


def slice_page(
    rows: Sequence[Row], convert: Callable[[Row], Item], *, limit: int, offset: int
) -> Page[Item]:
    """A page cut from a short list held in memory (the directory, the policies, the adapters);
    only the rows on the page are converted."""
    return page_of(
        [convert(row) for row in rows[offset : offset + limit]],
        total=len(rows),
        limit=limit,
        offset=offset,
    )
