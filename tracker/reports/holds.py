"""Why a report is not moving: a stable code plus a sentence a caseworker can act on."""

import enum


class HoldReason(enum.StrEnum):
    """Why nothing is filed (or the clock stands still) for a report."""

    NO_AUTHORITY_TO_ACT = "no_authority_to_act"
    CLOCK_PAUSED = "clock_paused"


_MESSAGES = {
    HoldReason.NO_AUTHORITY_TO_ACT: (
        "Not filed: the case has no authority to act. Set authority_to_act on the case "
        "(PATCH /api/v1/cases/{id}) and its waiting reports are filed."
    ),
    HoldReason.CLOCK_PAUSED: "The clock is paused{detail}; resume the report to go on.",
}


def hold_message(reason: HoldReason | str, pause_reason: str | None = None) -> str:
    """The sentence shown for a hold reason."""
    text = _MESSAGES[HoldReason(reason)]
    detail = f" ({pause_reason.replace('_', ' ')})" if pause_reason else ""
    return text.replace("{detail}", detail)
