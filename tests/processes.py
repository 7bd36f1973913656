"""Driving the real processes from tests: `tracker` commands and servers as children.

Each child runs in its own session (process group), so a test can kill -9 a Celery worker
together with its pool processes, as a crashed machine would, and ``stop`` never leaves an
orphan behind. Output goes to one log file per name; failure messages quote the tails.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

TRACKER = [sys.executable, "-m", "tracker.cli"]
LOG_TAIL_CHARACTERS = 3000

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Processes:
    """Child processes with their output in files; all stopped at the end."""

    def __init__(self, directory: Path, environment: dict[str, str]) -> None:
        self.directory = directory
        self.environment = environment
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        #: Logs of things that are not our children (a daemonised PostgreSQL), by name.
        self.extra_logs: dict[str, Path] = {}

    def start(self, name: str, *arguments: str) -> Path:
        """Start ``tracker <arguments>`` in the background; its output goes to ``<name>.log``."""
        return self.spawn(name, [*TRACKER, *arguments])

    def spawn(self, name: str, command: list[str]) -> Path:
        """Start any command in the background, in its own process group."""
        log = self.directory / f"{name}.log"
        with log.open("ab") as output:  # appended: a restarted child keeps its earlier output
            child = subprocess.Popen(  # noqa: S603
                command,
                env=self.environment,
                cwd=self.directory,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append((name, child))
        return log

    def run(self, *arguments: str) -> str:
        """Run ``tracker <arguments>`` to completion and return its output (must succeed)."""
        done = subprocess.run(  # noqa: S603
            [*TRACKER, *arguments],
            env=self.environment,
            cwd=self.directory,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        return done.stdout.decode()

    def child(self, name: str) -> subprocess.Popen[bytes]:
        """The most recent child started under ``name``."""
        for child_name, child in reversed(self.children):
            if child_name == name:
                return child
        raise KeyError(name)

    def is_running(self, name: str) -> bool:
        """Whether the most recent child of that name is still running."""
        return self.child(name).poll() is None

    def kill(self, name: str) -> None:
        """kill -9 the child and every process in its group (a Celery worker's pool too)."""
        child = self.child(name)
        if child.returncode is None:  # not reaped yet, so its id still names our child
            _signal_group(child, signal.SIGKILL)
        child.wait(timeout=15)

    def stop(self) -> None:
        """Ask every child to stop and wait; kill -9 the group of any that does not."""
        for _, child in self.children:
            if child.poll() is None:
                child.terminate()
        for _, child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # Killed as a group before it is reaped, so the id still names our child.
                _signal_group(child, signal.SIGKILL)
                child.wait(timeout=15)

    def log(self, name: str) -> str:
        """The whole output of every child started under ``name``."""
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """The tail of every child's output, for failure messages."""
        names = dict.fromkeys(name for name, _ in self.children)
        tails = [f"--- {name}\n" + self.log(name)[-LOG_TAIL_CHARACTERS:] for name in names]
        for name, path in self.extra_logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            tails.append(f"--- {name}\n" + text[-LOG_TAIL_CHARACTERS:])
        return "\n".join(tails)


def _signal_group(child: subprocess.Popen[bytes], signal_number: int) -> None:
    try:
        os.killpg(child.pid, signal_number)  # the child leads its own group (new session)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for(predicate: Callable[[], T], *, timeout: float, what: str, processes: Processes) -> T:
    """Poll ``predicate`` until it returns something truthy; fail with the logs on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last seen: {last}\n{processes.logs()}")


def key_from(text: str) -> str:
    """The API key printed by `tracker users create` or the first `tracker serve`."""
    match = re.search(r"(tk_[A-Za-z0-9_-]{20,})", text)
    assert match, text
    return match.group(1)


def wait_healthy(api: str, processes: Processes) -> None:
    """Wait until the API answers ``/healthz``."""

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=60, what="the API to start", processes=processes)
