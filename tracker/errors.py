"""Domain errors. The API turns each into one HTTP status in the one error envelope."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, in FastAPI's validation shape: where, what, and a stable type."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


class DomainError(Exception):
    """Base of the errors service functions raise for the caller to report."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(problem.msg for problem in problems))
        self.problems = list(problems)

    @classmethod
    def one(cls, loc: tuple[str | int, ...], msg: str, type_: str) -> "DomainError":
        return cls([Problem(loc=loc, msg=msg, type=type_)])


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""


class Forbidden(DomainError):
    """The caller's role may not do this."""


class Conflict(DomainError):
    """The object is not in a state that allows this."""


class Invalid(DomainError):
    """A field's value is not acceptable."""
