"""The words a caseworker reads for the tracker's codes: states, verdicts, reasons, times.

Each code has a short plain phrase, marked for translation (``N_``) and translated where it
is shown (``Words``), so a new language translates these too.
"""

from __future__ import annotations

import gettext
from datetime import datetime, timedelta

from tracker.console.i18n import N_
from tracker.db import utcnow

STATES = {
    "logged": N_("Logged, not filed yet"),
    "awaiting_manual": N_("Form ready: waiting for you to submit it"),
    "filed": N_("Reported, waiting for the platform"),
    "acknowledged": N_("The platform has acknowledged the report"),
    "escalated": N_("Escalated to the next step"),
    "removed": N_("Removed"),
    "reappeared": N_("Back online after removal"),
    "exhausted": N_("Every step tried: a person must decide"),
    "paused": N_("Clock paused"),
    "closed": N_("Closed"),
}
VERDICTS = {
    "live": N_("Still online"),
    "removed": N_("Gone"),
    "private": N_("Made private"),
    "login_required": N_("Behind a login"),
    "blocked": N_("The site blocked our check"),
    "geo_withheld": N_("Withheld in this country"),
    "unreachable": N_("Site unreachable"),
    "unknown": N_("Could not tell"),
}
FILING_STATUSES = {
    "pending": N_("Waiting to be sent"),
    "submitting": N_("Being sent"),
    "awaiting_manual": N_("Waiting for you to submit the form"),
    "submitted": N_("Sent"),
    "acknowledged": N_("Acknowledged by the platform"),
    "removed": N_("The platform says it is removed"),
    "rejected": N_("Rejected by the platform"),
    "failed": N_("Could not be sent"),
    "superseded": N_("Replaced by the next step"),
}
CHANNEL_KINDS = {
    "api": N_("platform reporting API"),
    "email": N_("e-mail"),
    "webform": N_("web form (you submit it)"),
}
PAUSE_REASONS = {
    "waiting_for_victim": N_("Waiting for the person we help"),
    "platform_requested_info": N_("The platform asked for more information"),
}
HOLD_REASONS = {
    "no_authority_to_act": N_("Not filed: the case has no authority to act yet"),
    "clock_paused": N_("The clock is paused"),
}
ROLES = {
    "caseworker": N_("Caseworker"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Admin"),
    "dashboard": N_("Dashboard (machine)"),
    "metrics": N_("Metrics (machine)"),
}
CASE_STATUSES = {"open": N_("Open"), "closed": N_("Closed")}
INTAKE_OUTCOMES = {
    "created": N_("Will be added"),
    "duplicate": N_("Duplicate"),
    "rejected": N_("Rejected"),
}


class Words:
    """The phrases above in one language, plus durations and countdowns."""

    def __init__(self, translate: gettext.NullTranslations) -> None:
        self._ = translate.gettext
        self._n = translate.ngettext

    def _lookup(self, table: dict[str, str], code: object) -> str:
        key = str(getattr(code, "value", code))
        return self._(table[key]) if key in table else key.replace("_", " ")

    def state(self, code: object) -> str:
        return self._lookup(STATES, code)

    def verdict(self, code: object) -> str:
        return self._lookup(VERDICTS, code) if code else self._("Not checked yet")

    def filing_status(self, code: object) -> str:
        return self._lookup(FILING_STATUSES, code)

    def channel(self, code: object) -> str:
        return self._lookup(CHANNEL_KINDS, code)

    def pause_reason(self, code: object) -> str:
        return self._lookup(PAUSE_REASONS, code)

    def hold_reason(self, code: object) -> str:
        return self._lookup(HOLD_REASONS, code)

    def role(self, code: object) -> str:
        return self._lookup(ROLES, code)

    def case_status(self, code: object) -> str:
        return self._lookup(CASE_STATUSES, code)

    def outcome(self, code: object) -> str:
        return self._lookup(INTAKE_OUTCOMES, code)

    def duration(self, span: timedelta) -> str:
        """ "2 d 3 h", "3 h 20 min", "12 min": the two largest units."""
        minutes = max(0, int(span.total_seconds() // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return self._("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
        if hours:
            return self._("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
        return self._("%(minutes)d min") % {"minutes": minutes}

    def countdown(self, deadline: datetime | None, now: datetime | None = None) -> str:
        """ "due in 3 h 20 min" or "overdue by 2 h 5 min"; empty without a deadline."""
        if deadline is None:
            return ""
        left = deadline - (now or utcnow())
        if left.total_seconds() < 0:
            return self._("overdue by %(time)s") % {"time": self.duration(-left)}
        return self._("due in %(time)s") % {"time": self.duration(left)}
