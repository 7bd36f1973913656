"""A real SMTP sink on loopback (aiosmtpd), shared by the e-mail tests."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class CollectingHandler:
    """An SMTP sink that keeps messages and refuses recipients by their local part."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.startswith("refuse-550@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("defer-451@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def sent_to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


class LoopbackController(Controller):
    """aiosmtpd's Controller on an OS-chosen free port (it has no port-0 support itself)."""

    def _create_server(self):
        async def create():
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@dataclass
class SmtpSink:
    port: int
    handler: CollectingHandler
