"""Where observations accumulate: this process's memory, relayed to Redis when distributed.

In distributed mode the workers, the scheduler and the API are separate processes, and
``/metrics`` is served by the API. Each process adds what it observes to hashes in memory
(``pending``); a daemon thread moves them to Redis at most every
``metrics_flush_interval_seconds``, in one ``MULTI``/``EXEC`` pipeline of ``HINCRBY`` and
``HINCRBYFLOAT``, and once more when the process exits. ``/metrics`` reads the Redis hashes and
adds what its own process has not sent yet. A flush and a read never overlap within a process,
so nothing is counted twice or missed by a scrape.

While Redis is away increments stay in memory (bounded: the labels are enumerations) and a
scrape shows the last values it read from Redis plus them, so counters never go backwards. A
flush that timed out after Redis applied it is kept and sent again: an outage can count a batch
twice, never lose one. In embedded mode there is no Redis and the memory holds the totals.

Recording never raises and never waits for Redis: metrics must not break a check or a filing.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from tracker.settings import RunMode, get_settings

logger = logging.getLogger(__name__)

Number = int | float
Hashes = dict[str, dict[str, Number]]


def merge(into: Hashes, more: Mapping[str, Mapping[str, Number]]) -> Hashes:
    """Add the fields of ``more`` to ``into`` (in place) and return it."""
    for key, fields in more.items():
        target = into.setdefault(key, {})
        for field, amount in fields.items():
            target[field] = target.get(field, 0) + amount
    return into


def _number(raw: bytes | str) -> Number:
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        return int(text)
    except ValueError:
        return float(text)


class RedisRelay:
    """Adds batches of increments to Redis hashes and reads them back; False or None (never
    an exception) while Redis fails, trying again ``retry_seconds`` later."""

    def __init__(self, url: str, *, retry_seconds: float = 5.0, client: Any = None) -> None:
        import redis

        self.client = client or redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1
        )
        self.retry_seconds = retry_seconds
        self._down_until: float | None = None

    def add(self, batch: Mapping[str, Mapping[str, Number]]) -> bool:
        """Add every increment of ``batch``, all or none; whether Redis took them."""
        if self._is_down():
            return False
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for key, fields in batch.items():
                    for field, amount in fields.items():
                        if isinstance(amount, int):
                            pipe.hincrby(key, field, amount)
                        else:
                            pipe.hincrbyfloat(key, field, amount)
                pipe.execute()
        except Exception as error:  # any Redis or socket failure: keep the batch in memory
            self._failed(error)
            return False
        self._recovered()
        return True

    def read(self, keys: Iterable[str]) -> Hashes | None:
        """The hashes under ``keys``; None while Redis fails."""
        keys = list(keys)
        if self._is_down():
            return None
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                answers = pipe.execute()
        except Exception as error:
            self._failed(error)
            return None
        self._recovered()
        return {
            key: {
                (field.decode() if isinstance(field, bytes) else field): _number(value)
                for field, value in answer.items()
            }
            for key, answer in zip(keys, answers, strict=True)
        }

    def retry_now(self) -> None:
        """Try Redis at the next call even if it failed a moment ago (a process exiting)."""
        self._down_until = None if self._down_until is None else 0.0

    def _is_down(self) -> bool:
        return self._down_until is not None and time.monotonic() < self._down_until

    def _failed(self, error: Exception) -> None:
        if self._down_until is None:
            # The type only: a Redis error's text can name the host.
            logger.warning(
                "metrics: Redis unavailable (%s); counting in memory until it is back",
                type(error).__name__,
            )
        self._down_until = time.monotonic() + self.retry_seconds

    def _recovered(self) -> None:
        if self._down_until is not None:
            logger.info("metrics: Redis is back; sending the counts kept in memory")
        self._down_until = None


class Recorder:
    """This process's increments, and (distributed) the thread that relays them to Redis."""

    def __init__(self, *, relay: RedisRelay | None = None, flush_interval: float = 1.0) -> None:
        self.relay = relay
        self.flush_interval = flush_interval
        self._pending: Hashes = {}
        self._pending_lock = threading.Lock()  # held for dict updates only: never while on I/O
        self._io_lock = threading.Lock()  # one flush or read at a time
        self._remote: Hashes = {}  # the last values read from Redis, for when it is away
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, key: str, increments: Mapping[str, Number]) -> None:
        """Add increments to one hash (in memory; the thread sends them)."""
        thread = None
        with self._pending_lock:
            merge(self._pending, {key: increments})
            if self.relay is not None and self._thread is None and not self._stop.is_set():
                thread = self._thread = threading.Thread(
                    target=self._run, name="tracker-metrics-relay", daemon=True
                )
        if thread is not None:  # started lazily: a forked child starts its own
            thread.start()

    def flush(self, *, timeout: float = -1) -> bool:
        """Send what waits to Redis now; whether nothing is left waiting."""
        if self.relay is None:
            return True
        if not self._io_lock.acquire(timeout=timeout):
            return False
        try:
            with self._pending_lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return True
            if self.relay.add(batch):
                return True
            with self._pending_lock:  # Redis is away: keep them for the next flush
                self._pending = merge(batch, self._pending)
            return False
        finally:
            self._io_lock.release()

    def read(self, keys: Iterable[str]) -> Hashes:
        """The totals of these hashes: Redis's (or the last read) plus what waits here."""
        keys = list(keys)
        with self._io_lock:
            totals: Hashes = {key: {} for key in keys}
            if self.relay is not None:
                remote = self.relay.read(keys)
                if remote is not None:
                    self._remote.update(remote)
                merge(totals, {key: self._remote.get(key, {}) for key in keys})
            with self._pending_lock:
                merge(totals, {key: self._pending[key] for key in keys if key in self._pending})
        return totals

    def close(self) -> None:
        """Stop the relay thread and send what waits (bounded: never hangs an exit)."""
        self._stop.set()
        if self.relay is not None:
            self.relay.retry_now()
        self.flush(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # the relay must outlive any surprise
                logger.exception("metrics: flush failed")


class _Holder:
    recorder: Recorder | None = None
    config: tuple[object, ...] | None = None
    lock = threading.Lock()


def _config() -> tuple[object, ...]:
    settings = get_settings()
    return (
        settings.run_mode,
        settings.redis_url,
        settings.metrics_namespace,
        settings.metrics_flush_interval_seconds,
    )


def recorder() -> Recorder:
    """This process's recorder, built from the settings (rebuilt if they changed: tests)."""
    config = _config()
    current = _Holder.recorder
    if current is not None and _Holder.config == config:
        return current
    with _Holder.lock:
        if _Holder.recorder is None or _Holder.config != config:
            previous = _Holder.recorder
            settings = get_settings()
            relay = (
                RedisRelay(settings.redis_url) if settings.run_mode is RunMode.DISTRIBUTED else None
            )
            _Holder.recorder = Recorder(
                relay=relay, flush_interval=settings.metrics_flush_interval_seconds
            )
            _Holder.config = config
            if previous is not None:
                previous.close()
        return _Holder.recorder


def namespace() -> str:
    """The prefix of the metrics' Redis keys."""
    return get_settings().metrics_namespace


def flush() -> bool:
    """Send this process's waiting increments now; whether none is left waiting."""
    current = _Holder.recorder
    return current.flush(timeout=5) if current is not None else True


def close() -> None:
    """Send what waits and stop relaying: a process that stops (a worker's pool process, or
    any process at exit) calls this."""
    current = _Holder.recorder
    if current is not None:
        current.close()


def _forget_in_child() -> None:
    # A forked child (a Celery pool process) starts empty: what the parent holds is the
    # parent's to send, and its locks and thread did not come along.
    _Holder.recorder = None
    _Holder.config = None
    _Holder.lock = threading.Lock()


atexit.register(close)
os.register_at_fork(after_in_child=_forget_in_child)
