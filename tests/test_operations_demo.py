"""`tracker serve --demo` as a newcomer runs it: started as a real process in a temp folder.

Item 17: the simulator takes a free port (8765 taken or not) unless TRACKER_SANDBOX_BASE_URL
names one, a taken named port fails in one line, nothing prints the simulated URLs, the sandbox
adapter is on, and a mail sink keeps e-mails. Item 13: the README's tour runs as written.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from processes import Processes, free_port, key_from, wait_for, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR_LINE = re.compile(r"Sandbox platform simulator at (http://[0-9.:]+)")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Children with a newcomer's environment: no TRACKER_* setting from the test suite."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    environment["TRACKER_DATA_DIR"] = str(tmp_path / "data")
    group = Processes(tmp_path, environment)
    yield group
    group.stop()


def start_demo(processes: Processes) -> tuple[str, str, str]:
    """Start the demo on a free port; its API root, simulator URL and first admin key."""
    port = free_port()
    log = processes.start("demo", "serve", "--demo", "--port", str(port))
    api = f"http://127.0.0.1:{port}"
    wait_healthy(api, processes)
    text = wait_for(
        lambda: "API key" in log.read_text() and log.read_text(),
        timeout=30,
        what="the first admin key",
        processes=processes,
    )
    simulator = SIMULATOR_LINE.search(text)
    assert simulator, text
    return api, simulator.group(1), key_from(text)


def taken_port(port: int) -> socket.socket | None:
    """Hold ``port`` on loopback (bound, not listening); None if something else holds it."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
    except OSError:
        holder.close()
        return None
    return holder


@pytest.mark.e2e
def test_demo_takes_a_free_port_files_to_it_and_prints_no_simulated_url(
    processes: Processes,
) -> None:
    holder = taken_port(8765)  # taken by us, or by someone else: either way it is taken
    try:
        api, simulator, key = start_demo(processes)
        assert not simulator.endswith(":8765")
        auth = {"Authorization": f"Bearer {key}"}
        # The simulator answers where the banner says, and the tracker knows it as the sandbox.
        assert httpx.get(f"{simulator}/videos/comply-quiet-1").status_code == 200
        case = httpx.post(
            f"{api}/api/v1/cases",
            json={"label": "Case FAKE-001", "jurisdictions": ["DEMO"], "authority_to_act": True},
            headers=auth,
        )
        assert case.status_code == 201, case.text
        logged = httpx.post(
            f"{api}/api/v1/cases/{case.json()['id']}/reports",
            json={"urls": [f"{simulator}/videos/comply-quiet-2"]},
            headers=auth,
        )
        assert logged.status_code == 200, logged.text
        assert logged.json()["results"][0]["platform"] == "sandbox"
        # The sandbox adapter is on: the filing reaches the simulator.
        wait_for(
            lambda: httpx.get(f"{simulator}/_sim/stats").json()["report_posts"],
            timeout=30,
            what="the sandbox filing",
            processes=processes,
        )
        time.sleep(0.5)
    finally:
        if holder is not None:
            holder.close()
    output = processes.log("demo")
    assert "comply-quiet" not in output, output
    assert "/videos/" not in output and "/_sim/" not in output, output
    assert "HTTP/1.1" not in output, output  # no access log line of either server
    assert "Demo mail sink on 127.0.0.1:" in output
    assert (Path(processes.directory) / "data" / "demo-mail").is_dir()


@pytest.mark.e2e
def test_demo_runs_the_simulator_where_the_sandbox_base_url_says(processes: Processes) -> None:
    named = f"http://127.0.0.1:{free_port()}"
    processes.environment["TRACKER_SANDBOX_BASE_URL"] = named
    _, simulator, _ = start_demo(processes)
    assert simulator == named
    assert httpx.get(f"{named}/videos/comply-named-1").status_code == 200


def test_demo_fails_in_one_line_when_the_named_port_is_taken(processes: Processes) -> None:
    port = free_port()
    holder = taken_port(port)
    assert holder is not None
    try:
        processes.environment["TRACKER_SANDBOX_BASE_URL"] = f"http://127.0.0.1:{port}"
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tracker.cli", "serve", "--demo", "--port", str(free_port())],
            env=processes.environment,
            cwd=processes.directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.close()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"tracker serve: cannot run the sandbox simulator on 127.0.0.1:{port} "
        "(TRACKER_SANDBOX_BASE_URL): Address already in use; free that port or unset "
        "TRACKER_SANDBOX_BASE_URL"
    )


def test_serve_fails_in_one_line_when_its_own_port_is_taken(processes: Processes) -> None:
    port = free_port()
    holder = taken_port(port)
    assert holder is not None
    try:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)],
            env=processes.environment,
            cwd=processes.directory,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.close()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"tracker serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def tour_script(api: str, simulator: str, key: str) -> str:
    """The README's tour, with the three lines a reader sets from the start-up banner."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## A short tour") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    block = block[: block.index("```")]
    replaced = {"KEY=": f"KEY={key}", "SIM=": f"SIM={simulator}", "API=": f"API={api}/api/v1"}
    lines = []
    for line in block.splitlines():
        prefix = next((start for start in replaced if line.startswith(start)), None)
        lines.append(replaced.pop(prefix) if prefix else line)
    assert not replaced, f"the tour no longer sets {sorted(replaced)}"
    # Every HTTP answer of the tour must be a success: a 4xx (like confirming filing 1, which
    # is the sandbox's API filing: 409) fails the run.
    strict_curl = """set -euo pipefail
curl() {
  local answer status
  answer=$(command curl --silent --show-error --write-out '\\n%{http_code}' "$@")
  status=${answer##*$'\\n'}
  printf '%s\\n' "${answer%$'\\n'*}"
  if [ "$status" -ge 400 ]; then echo "tour: HTTP $status from: curl $*" >&2; return 1; fi
}
"""
    return strict_curl + "\n".join(lines) + "\n"


@pytest.mark.e2e
def test_the_readme_tour_runs_as_written(processes: Processes, tmp_path: Path) -> None:
    api, simulator, key = start_demo(processes)
    script = tmp_path / "tour.sh"
    script.write_text(tour_script(api, simulator, key))
    done = subprocess.run(  # noqa: S603
        ["bash", str(script)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr + processes.logs()
    auth = {"Authorization": f"Bearer {key}"}
    # The demo's own fictional cases (tracker/demo/seed.py) share the organisation: look at the
    # tour's case only.
    cases = httpx.get(f"{api}/api/v1/cases", params={"q": "Case 2026-001"}, headers=auth).json()
    assert cases["total"] == 1, cases
    reports = httpx.get(
        f"{api}/api/v1/reports", params={"case_id": cases["items"][0]["id"]}, headers=auth
    ).json()["items"]
    assert sorted(report["platform"] for report in reports) == ["facebook", "sandbox", "sandbox"]
    # The web-form filing the tour picked from the listing is confirmed: none of its case waits.
    waiting = httpx.get(f"{api}/api/v1/filings", headers=auth).json()["items"]
    tour_reports = {report["id"] for report in reports}
    assert not [filing for filing in waiting if filing["report_id"] in tour_reports], waiting


def test_the_mail_sink_saves_each_message_privately_and_logs_its_subject_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tracker.demo.mail import MailSink

    folder = tmp_path / "data" / "demo-mail"
    message = EmailMessage()
    message["From"] = "takedowns@helpline.example"
    message["To"] = "abuse@sandbox-host.example"
    message["Subject"] = "Removal request (reference FAKE-REF-1)"
    message.set_content("Notice about http://127.0.0.1:1/videos/fake-1")
    with caplog.at_level("INFO", logger="tracker.demo.mail"), MailSink(folder) as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
            client.send_message(message)
            client.send_message(message)
    saved = sorted(folder.iterdir())
    assert [path.name for path in saved] == ["0001.eml", "0002.eml"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in saved} == {0o600}
    assert "videos/fake-1" in saved[0].read_text()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "message 1 saved (subject: Removal request (reference FAKE-REF-1))" in logged
    assert "sandbox-host" not in logged and "videos" not in logged
    # A restarted sink numbers on from the files already there.
    with MailSink(folder) as sink, smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.send_message(message)
    assert sorted(path.name for path in folder.iterdir())[-1] == "0003.eml"


def test_the_demo_policy_escalates_within_minutes_and_reaches_an_email_rung() -> None:
    from platform_adapters.directory import load_directory
    from tracker.demo.startup import DEMO_JURISDICTION, DEMO_POLICY_DIR
    from tracker.policies.service import read_policy_files

    demo = [p for p in read_policy_files([DEMO_POLICY_DIR]) if p.jurisdiction == "DEMO"]
    assert DEMO_JURISDICTION == "DEMO" and len(demo) == 1
    assert [rung.deadline.total_seconds() for rung in demo[0].rungs] == [120, 120, 120]
    # The sandbox's host rung is an e-mail channel: the demo's mail sink receives it.
    sandbox = load_directory({"127.0.0.1": "sandbox"}, sandbox_enabled=True)
    routes = [sandbox.route("sandbox", rung.target) for rung in demo[0].rungs]
    assert [(route.kind, route.adapter) for route in routes] == [
        ("api", "sandbox"),
        ("api", "sandbox"),
        ("email", "email"),
    ]


@pytest.mark.e2e
def test_a_forwarding_header_cannot_choose_the_throttled_address(processes: Processes) -> None:
    """Without TRACKER_TRUSTED_PROXIES, X-Forwarded-For is not the client: ten wrong keys from
    one connection address are throttled whatever addresses the header names."""
    processes.environment["TRACKER_AUTH_FAILURE_LIMIT"] = "3"
    port = free_port()
    processes.start("serve", "serve", "--port", str(port))
    api = f"http://127.0.0.1:{port}"
    wait_healthy(api, processes)
    answers = [
        httpx.get(
            f"{api}/api/v1/me",
            headers={
                "Authorization": f"Bearer tk_wrong{number:04d}",
                "X-Forwarded-For": f"203.0.113.{number}",
            },
        ).status_code
        for number in range(6)
    ]
    assert answers == [401, 401, 401, 429, 429, 429]
