"""The report lifecycle: one explicit state machine.

```
logged ──► filed ──► acknowledged ──► removed ──► closed   (watch schedule ends)
             │            │
             └─► paused ◄─┘  (clock stopped: waiting for the victim / platform asked for more)
  │          │            │             │
  │          └────────────┴─► escalated ─► filed (next rung) ... ─► exhausted
  └─► awaiting_manual ─► filed (caseworker confirmed with the platform's reference)
removed ─► reappeared ─► filed again on the current rung
```
``escalated`` and ``reappeared`` are waiting for their new filing to go out. A report is
``removed`` only after consecutive ``removed`` checks; ``blocked`` or ``unreachable`` never count.
"""

import enum


class ReportState(enum.StrEnum):
    LOGGED = "logged"
    AWAITING_MANUAL = "awaiting_manual"
    FILED = "filed"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    EXHAUSTED = "exhausted"  # every rung of the ladder tried; a person must decide
    PAUSED = "paused"  # the clock is stopped: waiting for the victim, or the platform asked
    CLOSED = "closed"


S = ReportState

ALLOWED_TRANSITIONS: dict[ReportState, frozenset[ReportState]] = {
    S.LOGGED: frozenset(
        {S.FILED, S.AWAITING_MANUAL, S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.CLOSED}
    ),
    S.AWAITING_MANUAL: frozenset(
        {S.FILED, S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.PAUSED, S.CLOSED}
    ),
    S.FILED: frozenset({S.ACKNOWLEDGED, S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.PAUSED, S.CLOSED}),
    S.ACKNOWLEDGED: frozenset({S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.PAUSED, S.CLOSED}),
    S.ESCALATED: frozenset(
        {S.FILED, S.AWAITING_MANUAL, S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.CLOSED}
    ),
    S.REMOVED: frozenset({S.REAPPEARED, S.CLOSED}),
    S.REAPPEARED: frozenset(
        {S.FILED, S.AWAITING_MANUAL, S.ESCALATED, S.EXHAUSTED, S.REMOVED, S.CLOSED}
    ),
    S.EXHAUSTED: frozenset({S.REMOVED, S.CLOSED}),
    S.PAUSED: frozenset({S.FILED, S.ACKNOWLEDGED, S.AWAITING_MANUAL, S.REMOVED, S.CLOSED}),
    S.CLOSED: frozenset(),
}

#: States whose report is on a legal clock (``deadline_at`` is set while in them).
ON_THE_CLOCK = frozenset({S.FILED, S.ACKNOWLEDGED})
#: States waiting for a filing to go out at the current rung.
FILING_PENDING = frozenset({S.LOGGED, S.ESCALATED, S.REAPPEARED})
#: States in which the clock can be stopped.
PAUSABLE = frozenset({S.FILED, S.ACKNOWLEDGED, S.AWAITING_MANUAL})
#: States that wait on a person: the assigned caseworker is reminded while they last.
STALE = frozenset({S.AWAITING_MANUAL, S.EXHAUSTED, S.PAUSED})
#: States that are still being re-checked.
CHECKED = frozenset(set(ReportState) - {S.CLOSED})


class InvalidTransition(Exception):
    """A transition the state machine does not allow."""

    def __init__(self, from_state: str, to_state: str) -> None:
        super().__init__(f"a report cannot go from {from_state} to {to_state}")
        self.from_state = from_state
        self.to_state = to_state


def ensure_allowed(from_state: ReportState, to_state: ReportState) -> None:
    """Raise InvalidTransition unless the lifecycle allows this move."""
    if to_state not in ALLOWED_TRANSITIONS[ReportState(from_state)]:
        raise InvalidTransition(from_state, to_state)
