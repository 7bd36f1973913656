"""The one page envelope every list answers with: ``items``, ``total``, ``limit``, ``offset``.

The long lists (reports, cases) also page by key: ``before_id`` is the id of the last item of
the previous page, and the next page holds the items just older than it. A page by key costs
the same at row 900,000 as at row 0, and items added meanwhile (newer, so ahead of the first
page) neither repeat an item nor push one out of the walk, which a growing ``offset`` does.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from tracker.ids import MAX_ROW_ID

Item = TypeVar("Item")
Row = TypeVar("Row")

BeforeId = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_ROW_ID,
        description="Keyset paging: only items older than this id (newest first, so give the id "
        "of the last item of the previous page). Fast at any depth, and stable while items are "
        "added; `total` still counts every page. Combines with the filters and with `offset`.",
    ),
]


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
