"""What the benchmarks run beside the tracker: a private Redis, a throwaway PostgreSQL database,
free loopback ports, and CPU time read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Clock ticks per second, for the CPU times in /proc/<pid>/stat.
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_redis() -> Iterator[str]:
    """A Redis of this benchmark only, on a free loopback port; stopped at the end."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@contextmanager
def bench_database(admin_url: str, *, keep: bool, prefix: str = "tracker_bench") -> Iterator[str]:
    """A fresh database on the (shared) PostgreSQL, dropped at the end unless ``keep``."""
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it that is still running."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
            except FileNotFoundError:
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes have used so far (their own, not reaped
    children's)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its running descendants."""
    return cpu_seconds(process_tree(pid))


def named_cpu_seconds(name: str) -> float:
    """CPU seconds of every running process whose command name is ``name`` (e.g. postgres)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() == name:
                    pids.append(int(entry))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return cpu_seconds(pids)


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / TICKS, total / TICKS


def cpu_by_command() -> dict[int, tuple[str, float]]:
    """Every running process's command name and CPU seconds so far, by pid."""
    found: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        if name.startswith("python"):
            name = _python_command(entry) or name
        fields = text.rsplit(")", 1)[1].split()
        found[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def cpu_spent_by_command(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds each command spent between two ``cpu_by_command`` readings (a process that
    started in between counts from zero; one that ended is missing)."""
    spent: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        earlier = before.get(pid)
        used = cpu - earlier[1] if earlier is not None and earlier[0] == name else cpu
        if used > 0:
            spent[name] = spent.get(name, 0.0) + used
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def _python_command(pid: str) -> str | None:
    """``python -m tracker.cli worker`` as ``tracker worker``: which Python program it is."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return None
    if "-m" in words:
        module = words[words.index("-m") + 1 :]
        return " ".join(["tracker" if module[0] == "tracker.cli" else module[0], *module[1:2]])
    return " ".join(word.rsplit("/", 1)[-1] for word in words[1:2]) or None
