"""WhatsApp (India): a grievance to WhatsApp's Grievance Officer for India, by e-mail.

WhatsApp content lives in chats and has no public pages to re-check, so India's grievance route
is the channel: the Grievance Officer's e-mail address (DOMAIN.md §4), with the complaint under
Rule 3(2)(a)(i) read with Rule 3(2)(b). WhatsApp asks for grievances to be e-signed: the notice
says so and carries the representative's electronic signature; a caseworker whose organisation
uses a certified digital signature should send it from a signing mail client instead.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from platform_adapters.base import FilingReceipt, FilingRequest
from platform_adapters.email import EmailAdapter

DEFAULT_ADDRESS = "grievance_officer_wa@support.whatsapp.com"


class WhatsAppGrievanceAdapter(EmailAdapter):
    """E-mails an e-signed Rule 3(2)(b) grievance to WhatsApp's Grievance Officer for India."""

    slug: ClassVar[str] = "whatsapp_grievance"

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Send the grievance notice, by default to WhatsApp's Grievance Officer address."""
        defaults = {
            "address": DEFAULT_ADDRESS,
            "notice": "in_grievance_officer",
            "requires_e_signature": True,
        }
        addressed = dataclasses.replace(
            request, channel_params={**defaults, **request.channel_params}
        )
        return super().file(addressed)
