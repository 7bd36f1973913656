"""The demo's people and cases, so ``tracker serve --demo`` opens on a console with work in it.

On the first demo start the demo organisation gets a caseworker, a supervisor and an admin
who sign in to the console, and three cases of sandbox URLs (``platform_adapters/simulators/
sandbox.py``: the slug decides what the simulated platform does), after twelve weeks of closed,
fictional history for the dashboard (``tracker.demo.history``). Every demo start gives the
three people a fresh password, printed once: a demo is for trying, never for real cases.
Everything is made through the same services the API uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from tracker.cases.models import Case
from tracker.cases.schemas import CaseCreate
from tracker.cases.service import create_case
from tracker.db import Database
from tracker.demo.history import seed_history
from tracker.demo.startup import DEMO_JURISDICTION
from tracker.organisations.models import Role, User
from tracker.organisations.passwords import one_time_password, set_password
from tracker.organisations.service import Principal, create_user, find_organisation
from tracker.reports.intake import add_urls

DEMO_PEOPLE = (
    ("demo.caseworker", "Demo caseworker", Role.CASEWORKER),
    ("demo.supervisor", "Demo supervisor", Role.SUPERVISOR),
    ("demo.admin", "Demo admin", Role.ADMIN),
)
#: (label, authority to act, sandbox slugs): what each slug does is in the simulator's doc.
DEMO_CASES = (
    ("DEMO-001 (fictional)", True, ("comply-first-upload", "ignore-mirror", "reject-repost")),
    ("DEMO-002 (fictional)", True, ("soft-profile-video", "flaky-reupload")),
    ("DEMO-003 (fictional, waiting for authority)", False, ("comply-new-find",)),
)


@dataclass(frozen=True, slots=True)
class DemoSignIn:
    """The demo people's sign-in names and this start's password."""

    logins: tuple[str, ...]
    password: str


def seed_demo(database: Database, *, organisation_name: str, sandbox_base_url: str) -> DemoSignIn:
    """Create the demo people and cases once; give the people a fresh password every start."""
    password = one_time_password()
    with database.transaction() as session:
        organisation = find_organisation(session=session, name=organisation_name)
        assert organisation is not None and organisation.id is not None
        people: dict[str, User] = {}
        for login, name, role in DEMO_PEOPLE:
            user = session.exec(select(User).where(User.login == login)).first()
            if user is None:
                user, _ = create_user(
                    session=session,
                    organisation_id=organisation.id,
                    display_name=name,
                    role=role,
                    actor="demo",
                )
                user.login = login
            set_password(
                session=session, user=user, password=password, must_change=False, actor="demo"
            )
            people[login] = user
        has_cases = session.exec(
            select(Case.id).where(Case.organisation_id == organisation.id)
        ).first()
        if has_cases is None:
            caseworker = people["demo.caseworker"]
            assert caseworker.id is not None
            principal = Principal(
                user_id=caseworker.id, organisation_id=organisation.id, role=Role.CASEWORKER
            )
            # Past weeks first (the clock set back), then today's cases at today's time.
            seed_history(session=session, principal=principal, sandbox_base_url=sandbox_base_url)
            for label, authority, slugs in DEMO_CASES:
                case = create_case(
                    session=session,
                    principal=principal,
                    data=CaseCreate(
                        label=label,
                        jurisdictions=[DEMO_JURISDICTION],
                        authority_to_act=authority,
                    ),
                )
                assert case.id is not None
                add_urls(
                    session=session,
                    principal=principal,
                    case_id=case.id,
                    urls=[f"{sandbox_base_url}/videos/{slug}" for slug in slugs],
                    allow_partial=False,
                )
    return DemoSignIn(logins=tuple(login for login, _, _ in DEMO_PEOPLE), password=password)
