"""Lua scripts called on Redis with EVALSHA, pipelined: every call of one loop turn in one write.

A re-check makes two calls per request hop (take a slot, give it back). Sent one by one through
``redis.asyncio``, each costs 40-70 us of CPU (a connection taken from the pool, the command
packed argument by argument, a write, a read under its own timeout, an await). So calls are not
sent when made: they are queued, and once per event-loop turn everything queued goes out in one
write on one pooled connection (at most ``MAX_IN_FLIGHT`` writes in flight), under one timeout.
Commands arrive packed: the caller builds them from parts encoded once (``Script.command``,
``bulk``), since redis-py's packer was a third of the gate's CPU time. redis-py still connects,
reads and parses the replies.

``call`` waits for the answer; ``send`` does not (giving a slot back must not hold up the check),
and its failure is reported to ``on_error``. A script Redis does not know (after a restart or a
SCRIPT FLUSH) is loaded and the call made again. Everything runs on one event loop: make one
``ScriptPipeline`` per loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

#: Writes in flight at once; more calls wait for the next one (and batch better: 2 cost less
#: worker CPU per check than 4 in the pipeline benchmark, with no loss of throughput).
MAX_IN_FLIGHT = 2


def bulk(*values: bytes | str | int | float) -> bytes:
    """Values as RESP bulk strings, the form of command arguments on Redis's wire."""
    parts = []
    for value in values:
        data = value if isinstance(value, bytes) else str(value).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


@dataclass(frozen=True)
class Script:
    """A Lua script taking a fixed number of keys and arguments, called by its SHA-1."""

    source: str
    key_count: int
    argument_count: int
    sha: str = field(init=False)
    _head: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sha = hashlib.sha1(self.source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
        count = 3 + self.key_count + self.argument_count
        object.__setattr__(self, "sha", sha)
        object.__setattr__(self, "_head", b"*%d\r\n" % count + bulk("EVALSHA", sha, self.key_count))

    def command(self, keys: bytes, arguments: bytes) -> bytes:
        """The packed EVALSHA command, given its keys and arguments packed by ``bulk``."""
        return self._head + keys + arguments


class _Call:
    __slots__ = ("script", "command", "future", "abandoned")

    def __init__(
        self,
        script: Script,
        command: bytes,
        future: asyncio.Future[Any] | None,
        abandoned: Callable[[], None] | None,
    ) -> None:
        self.script = script
        self.command = command
        self.future = future
        self.abandoned = abandoned


class ScriptPipeline:
    """Queues EVALSHA calls and sends each loop turn's calls as one write."""

    def __init__(
        self,
        client: Any,
        *,
        timeout: float,
        on_error: Callable[[BaseException], None],
        on_success: Callable[[], None],
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.on_error = on_error
        self.on_success = on_success
        self._pending: list[_Call] = []
        self._scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    def call(
        self, script: Script, command: bytes, *, abandoned: Callable[[], None] | None = None
    ) -> asyncio.Future[Any]:
        """Queue a call; await the result to get the script's answer (or its error).

        ``abandoned`` runs once Redis has answered a call whose waiter was cancelled: whatever
        the script did can then be undone, after it (a later write may overtake this one).
        """
        future: asyncio.Future[Any] = self.loop.create_future()
        self._pending.append(_Call(script, command, future, abandoned))
        if not self._scheduled:
            self._schedule()
        return future

    def send(self, script: Script, command: bytes) -> None:
        """Queue a call whose answer nobody waits for (a failure goes to ``on_error``)."""
        self._pending.append(_Call(script, command, None, None))
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and len(self._in_flight) < MAX_IN_FLIGHT:
            self._scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = self.loop.create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending:
            self._schedule()

    async def _run(self, batch: list[_Call]) -> None:
        try:
            results = await self._execute(batch)
            missing = [index for index, result in enumerate(results) if _is_no_script(result)]
            if missing:
                # Redis lost its scripts (a restart or SCRIPT FLUSH): load them, call again.
                for script in {batch[index].script for index in missing}:
                    await self.client.script_load(script.source)
                again = await self._execute([batch[index] for index in missing])
                for index, result in zip(missing, again, strict=True):
                    results[index] = result
        except asyncio.CancelledError:
            for call in batch:
                if call.future is not None and not call.future.done():
                    call.future.cancel()
            raise
        except Exception as error:  # any Redis failure: every call of the batch failed
            self.on_error(error)
            for call in batch:
                if call.future is not None and not call.future.done():
                    call.future.set_exception(error)
            return
        failed: BaseException | None = None
        for call, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                failed = result
            future = call.future
            if future is None:
                continue
            if future.done():
                if future.cancelled() and call.abandoned is not None:
                    call.abandoned()
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
        if failed is None:
            self.on_success()
        else:
            self.on_error(failed)

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        """Write the batch's commands at once, then read a reply (or an error) for each."""
        pool = self.client.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(
                b"".join([call.command for call in batch]), check_health=False
            )
            results: list[Any] = []
            # One timeout for the whole batch, not one per reply (each costs a timer).
            async with asyncio.timeout(self.timeout):
                for _ in batch:
                    try:
                        results.append(await connection.read_response(timeout=math.inf))
                    except ResponseError as error:
                        results.append(error)
        except BaseException:
            # Replies may still be on the wire: never hand this connection to the next batch.
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)
        return results

    async def drain(self) -> None:
        """Wait until every call queued so far has been answered."""
        while self._pending or self._in_flight:
            if self._in_flight:
                await asyncio.wait(list(self._in_flight))
            else:
                self._schedule()
                await asyncio.sleep(0)

    async def aclose(self) -> None:
        """Send what is queued, then close the client's connections."""
        try:
            await self.drain()
        finally:
            await self.client.aclose()


def _is_no_script(result: object) -> bool:
    return isinstance(result, NoScriptError)
