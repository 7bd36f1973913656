"""Item 24: `scripts/services` brings up what the suite needs, and `scripts/test` runs it first.

The running PostgreSQL and Redis are never stopped or restarted here. The script is run as it
is on this machine (both up: nothing to do), and on a simulated fresh machine: PATH holds only
the basic tools plus stand-ins for apt-get, chromium, pg_ctlcluster, pg_isready and psql that
record what they were asked; the "installed" redis-server is the real one, started on a free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "services"
BASIC_TOOLS = (
    "dirname",
    "seq",
    "sleep",
    "ls",
    "sort",
    "tail",
    "sed",
    "python3",
    "cat",
    "cp",
    "ln",
    "touch",
    "timeout",
)

STUBS = {
    "id": '[ "$1" = -u ] && echo "${STUB_UID:-0}"',
    "apt-get": """echo "apt-get $*" >> "$STUB_STATE/calls"
[ -e "$STUB_STATE/apt-fails" ] && exit 100
[ "$1" = install ] || exit 0
for package in "$@"; do
  case "$package" in
    chromium) cp "$STUB_STATE/later/chromium" "$STUB_BIN/";;
    poppler-utils) cp "$STUB_STATE/later/pdftoppm" "$STUB_BIN/";;
    postgresql) cp "$STUB_STATE/later/pg_ctlcluster" "$STUB_STATE/later/pg_isready" "$STUB_BIN/";;
    postgresql-client) cp "$STUB_STATE/later/psql" "$STUB_BIN/";;
    redis-server) ln -s "$REAL_REDIS_SERVER" "$STUB_BIN/redis-server";;
  esac
done""",
}
LATER = {
    "chromium": 'echo "chromium $*" >> "$STUB_STATE/calls"',
    "pdftoppm": 'echo "pdftoppm $*" >> "$STUB_STATE/calls"',
    "pg_ctlcluster": 'echo "pg_ctlcluster $*" >> "$STUB_STATE/calls"; touch "$STUB_STATE/pg-up"',
    "pg_isready": '[ -e "$STUB_STATE/pg-up" ]',
    "psql": """echo "psql $*" >> "$STUB_STATE/calls"
case "$*" in *"SELECT 1 FROM pg_database"*) exit 0;; esac""",
}


def _write(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


class FreshMachine:
    """A PATH without Chromium, PostgreSQL or Redis, and stand-ins that record what they were
    asked."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.state = root / "state"
        (self.state / "later").mkdir(parents=True)
        self.bin.mkdir()
        for tool in BASIC_TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        for name, body in STUBS.items():
            _write(self.bin / name, body)
        for name, body in LATER.items():
            _write(self.state / "later" / name, body)
        self.etc = root / "etc-postgresql"
        (self.etc / "15" / "main").mkdir(parents=True)
        (self.etc / "15" / "main" / "pg_hba.conf").write_text(
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        self.redis_port = free_port()
        self.environment = {
            "PATH": str(self.bin),
            "HOME": str(root),
            "STUB_BIN": str(self.bin),
            "STUB_STATE": str(self.state),
            "REAL_REDIS_SERVER": shutil.which("redis-server") or "redis-server-missing",
            "POSTGRES_CONFIG_DIR": str(self.etc),
            "SERVICES_WAIT_SECONDS": "10",
            "TRACKER_TEST_POSTGRES_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test",
            "TRACKER_TEST_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/9",
        }

    def run(self, **environment: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            ["/bin/bash", str(SCRIPT)],
            env={**self.environment, **environment},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def with_chromium(self) -> None:
        """The system packages (chromium, poppler-utils' pdftoppm) are installed already."""
        shutil.copy(self.state / "later" / "chromium", self.bin / "chromium")
        shutil.copy(self.state / "later" / "pdftoppm", self.bin / "pdftoppm")

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def stop_redis(self) -> None:
        """Shut down the throwaway Redis the script started on our free port, if it did."""
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=2) as redis:
                redis.sendall(b"SHUTDOWN NOSAVE\r\n")
                redis.recv(64)
        except OSError:
            pass


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[FreshMachine]:
    fresh = FreshMachine(tmp_path)
    yield fresh
    fresh.stop_redis()


def test_services_is_a_no_op_when_postgresql_and_redis_are_up() -> None:
    done = subprocess.run(  # noqa: S603
        [str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert done.stdout == (
        "scripts/services: PostgreSQL (127.0.0.1:5432, database test) and Redis "
        "(127.0.0.1:6379) are up\n"
    )


def test_services_installs_and_starts_what_a_fresh_machine_lacks(machine: FreshMachine) -> None:
    done = machine.run()
    assert done.returncode == 0, done.stdout + done.stderr
    calls = machine.calls()
    # The system packages come first: Debian's chromium, for the console's browser tests, and
    # poppler-utils, whose pdftoppm renders the police bundle's PDF in the export tests.
    assert calls[:2] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends chromium poppler-utils",
    ]
    assert (machine.bin / "chromium").exists() and (machine.bin / "pdftoppm").exists()
    calls = calls[2:]
    assert calls[:2] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends postgresql postgresql-client",
    ]
    assert calls[2] == "pg_ctlcluster --skip-systemctl-redirect 15 main start"
    assert calls[3].startswith("psql -h 127.0.0.1 -p ") and "-U postgres -d postgres" in calls[3]
    assert calls[4].endswith('CREATE DATABASE "test"')
    assert calls[5:] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends redis-server",
    ]
    # The freshly installed cluster lets the suite in from loopback (first line wins).
    hba = (machine.etc / "15" / "main" / "pg_hba.conf").read_text().splitlines()
    assert hba[0] == "host all all 127.0.0.1/32 trust"
    # Redis really runs where the suite's URL says, and answers.
    with socket.create_connection(("127.0.0.1", machine.redis_port), timeout=2) as redis:
        redis.sendall(b"PING\r\n")
        assert redis.recv(16) == b"+PONG\r\n"
    assert done.stdout.splitlines()[-1].endswith(f"(127.0.0.1:{machine.redis_port}) are up")
    # Run again: everything answers now, so nothing is installed or started.
    before = len(machine.calls())
    again = machine.run()
    assert again.returncode == 0, again.stderr
    assert [call for call in machine.calls()[before:] if not call.startswith("psql")] == []


def test_services_installs_only_chromium_when_the_rest_is_there(machine: FreshMachine) -> None:
    # PostgreSQL and Redis were provided by a first run; then chromium goes missing.
    machine.with_chromium()
    assert machine.run().returncode == 0
    (machine.bin / "chromium").unlink()
    before = len(machine.calls())
    done = machine.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert [call for call in machine.calls()[before:] if not call.startswith("psql")] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends chromium",
    ]
    assert done.stdout.splitlines()[0] == "scripts/services: installing chromium"


def test_services_without_root_fails_in_one_line(machine: FreshMachine) -> None:
    done = machine.run(STUB_UID="1000")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scripts/services: missing chromium poppler-utils: install them (as root: "
        "apt-get install -y chromium poppler-utils) or run this as root"
    ]
    assert machine.calls() == []
    machine.with_chromium()
    done = machine.run(STUB_UID="1000")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scripts/services: missing postgresql postgresql-client: install them (as root: "
        "apt-get install -y postgresql postgresql-client) or run this as root"
    ]
    assert machine.calls() == []


def test_services_fails_in_one_line_when_apt_get_cannot_install(machine: FreshMachine) -> None:
    (machine.state / "apt-fails").touch()
    done = machine.run()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scripts/services: apt-get could not install chromium poppler-utils"
    ]
    machine.with_chromium()
    done = machine.run()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scripts/services: apt-get could not install postgresql postgresql-client"
    ]


def test_services_never_starts_a_remote_server(machine: FreshMachine) -> None:
    machine.with_chromium()  # nothing else to install: the remote server is all that is missing
    done = machine.run(TRACKER_TEST_POSTGRES_URL="postgresql+psycopg://u@192.0.2.1:5432/test")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scripts/services: PostgreSQL at 192.0.2.1:5432 does not answer (not local: start it "
        "there, or set TRACKER_TEST_POSTGRES_URL)"
    ]
    assert machine.calls() == []


def test_the_test_command_brings_services_up_first_and_ci_runs_exactly_it() -> None:
    test_script = (ROOT / "scripts" / "test").read_text().splitlines()
    commands = [line for line in test_script if line and not line.startswith("#")]
    assert commands[:3] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', "./scripts/services"]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    ci_commands = [line for line in ci if line and not line.startswith("#")]
    assert ci_commands[-1] == "exec ./scripts/test"
    assert not any("pg_" in line or "redis" in line for line in ci_commands)
    readme = (ROOT / "README.md").read_text()
    assert "```sh\n./scripts/test\n```" in readme
    assert os.access(ROOT / "scripts" / "services", os.X_OK)
