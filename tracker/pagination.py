"""One page of a listing and the total before pagination, both counted by the database."""

from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")


def paginate(
    *,
    session: Session,
    query: SelectOfScalar[T],
    order_by: Any,
    limit: int,
    offset: int,
    keyset: Any = None,
) -> tuple[list[T], int]:
    """The rows of one page of ``query`` in ``order_by`` order, and how many rows match.

    ``keyset`` (e.g. ``id < :before_id``) narrows the page only: the total counts every page.
    """
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = query if keyset is None else query.where(keyset)
    items = session.exec(page.order_by(order_by).limit(limit).offset(offset)).all()
    return list(items), int(total)
