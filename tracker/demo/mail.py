"""The demo's mail sink: an SMTP server on loopback that keeps every message as a file.

E-mail rungs (notices to a host's abuse address) and e-mailed notifications then work in the
demo without a real relay, and each message can be read: ``<data dir>/demo-mail/NNNN.eml``
(a 0700 folder of 0600 files, since a notice names the reported URL). The log says only the
message number and the subject (notice subjects carry a reference, never a URL or a person).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Self

from aiosmtpd.smtp import SMTP

from tracker.runtime import PRIVATE_FILE_MODE, private_folder

logger = logging.getLogger(__name__)


class SavingHandler:
    """Writes each message it receives to its own file in ``folder``, numbered in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        numbers = [int(path.stem) for path in folder.glob("*.eml") if path.stem.isdigit()]
        self._numbers = itertools.count(max(numbers, default=0) + 1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Save one message (aiosmtpd calls this after DATA) and accept it."""
        content: bytes = envelope.original_content or envelope.content
        with self._lock:
            number = next(self._numbers)
        path = self.folder / f"{number:04d}.eml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        subject = message_from_bytes(content, policy=policy.default)["Subject"]
        # By number: the log scrubber would read a file name like 0001.eml as a host name.
        logger.info("demo mail sink: message %d saved (subject: %s)", number, subject)
        return "250 Message accepted"


class MailSink:
    """The SMTP sink on its own event loop in a daemon thread; use as a context manager."""

    def __init__(self, folder: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (port 0 picks a free port, read back from ``port``) and serve in a thread."""
        private_folder(self.folder)
        handler = SavingHandler(self.folder)
        loop = asyncio.new_event_loop()
        try:
            server = loop.run_until_complete(
                loop.create_server(
                    lambda: SMTP(handler, hostname="tracker-demo", enable_SMTPUTF8=True, loop=loop),
                    host=self.host,
                    port=self.port,
                )
            )
        except BaseException:
            loop.close()
            raise
        self.port = int(server.sockets[0].getsockname()[1])
        self._loop, self._server = loop, server
        self._thread = threading.Thread(target=loop.run_forever, name="demo-mail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the loop."""
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None:
            return
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()
        self._loop = self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exception_info: object) -> None:
        self.stop()
