"""A pooled connection pinged after sitting idle is handed over outside any transaction: the
session that takes it starts its own, and can still choose its isolation level."""

from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.mark.postgresql_only
def test_a_pinged_connection_can_still_choose_its_isolation_level(db, monkeypatch):
    import tracker.db

    monkeypatch.setattr(tracker.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout pings
    with db.session() as session:
        session.execute(text("SELECT 1"))
    for _ in range(3):
        with db.session() as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            level = session.execute(text("SHOW transaction_isolation")).scalar_one()
            assert level == "repeatable read"
        with db.session() as session:
            assert session.execute(text("SHOW transaction_isolation")).scalar_one() == (
                "read committed"
            )
