"""Reading policy files and choosing the policy version that applies to a case."""

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session, select

from tracker.policies.models import PolicyVersion
from tracker.policies.schema import Policy


class PolicyFileError(ValueError):
    """A policy file that does not parse or does not fit the schema."""


class NoPolicy(LookupError):
    """No policy is in force for a jurisdiction."""

    def __init__(self, jurisdiction: str) -> None:
        super().__init__(f"no policy in force for jurisdiction {jurisdiction!r}")
        self.jurisdiction = jurisdiction


def read_policy_files(extra_dirs: list[Path] | None = None) -> list[Policy]:
    """Every policy in the package's data folder and in ``extra_dirs``, validated."""
    texts: list[tuple[str, str]] = []
    data = resources.files("tracker.policies").joinpath("data")
    for entry in sorted(data.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            texts.append((entry.name, entry.read_text(encoding="utf-8")))
    for directory in extra_dirs or []:
        for path in sorted(Path(directory).glob("*.toml")):
            texts.append((str(path), path.read_text(encoding="utf-8")))
    policies = []
    for name, text in texts:
        try:
            policies.append(Policy.model_validate(tomllib.loads(text)))
        except (tomllib.TOMLDecodeError, ValidationError) as error:
            raise PolicyFileError(f"policy file {name} is invalid: {error}") from error
    return policies


def sync_policies(*, session: Session, policies: list[Policy]) -> None:
    """Record each policy version once; a changed file must carry a new version number."""
    existing = {
        (row.policy_id, row.version): row for row in session.exec(select(PolicyVersion)).all()
    }
    for policy in policies:
        document = policy.model_dump(mode="json")
        row = existing.get((policy.id, policy.version))
        if row is None:
            session.add(
                PolicyVersion(
                    policy_id=policy.id,
                    version=policy.version,
                    jurisdiction=policy.jurisdiction.upper(),
                    title=policy.title,
                    effective_from=policy.effective_from,
                    source=policy.source,
                    document=document,
                )
            )
        elif row.document != document:
            raise PolicyFileError(
                f"policy {policy.id} version {policy.version} changed without a new version number"
            )
    session.flush()


def policy_in_force(*, session: Session, jurisdiction: str, on: date) -> PolicyVersion:
    """The newest version in force on ``on`` for a jurisdiction."""
    row = session.exec(
        select(PolicyVersion)
        .where(PolicyVersion.jurisdiction == jurisdiction.upper())
        .where(PolicyVersion.effective_from <= on)
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.version.desc())  # type: ignore[attr-defined]
    ).first()
    if row is None:
        raise NoPolicy(jurisdiction)
    return row


#: The policy every case flagged ``minor_involved`` takes (tracker/policies/data).
CHILD_JURISDICTION = "CHILD"


def policy_for_case(
    *, session: Session, jurisdictions: list[str], on: date, minor_involved: bool = False
) -> PolicyVersion:
    """Of the case's jurisdictions, the policy whose first rung has the shortest deadline; a
    case involving a minor takes the child-protection policy, whatever its jurisdictions."""
    if minor_involved:
        return policy_in_force(session=session, jurisdiction=CHILD_JURISDICTION, on=on)
    candidates = [
        policy_in_force(session=session, jurisdiction=code, on=on) for code in jurisdictions
    ]
    return min(candidates, key=lambda row: as_policy(row).rungs[0].deadline)


def as_policy(row: PolicyVersion) -> Policy:
    """The typed policy of a stored version."""
    return Policy.model_validate(row.document)


def list_policies(*, session: Session) -> list[PolicyVersion]:
    """Every recorded policy version, newest first per jurisdiction."""
    return list(
        session.exec(
            select(PolicyVersion).order_by(
                PolicyVersion.jurisdiction,
                PolicyVersion.effective_from.desc(),  # type: ignore[attr-defined]
            )
        ).all()
    )
