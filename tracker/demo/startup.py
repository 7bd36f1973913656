"""What ``tracker serve --demo`` runs beside the tracker, and the settings it implies.

- the sandbox platform simulator, on a free loopback port unless ``TRACKER_SANDBOX_BASE_URL``
  names one (then on that one; if a sandbox already answers there, that one is used);
- a mail sink (``tracker.demo.mail``), unless ``TRACKER_SMTP_HOST`` or ``TRACKER_SMTP_PORT``
  names a relay, so e-mail rungs and notifications work and can be read;
- the demo policy (jurisdiction ``DEMO``, two-minute rungs), added to ``TRACKER_POLICY_DIRS``,
  so escalation shows within minutes;
- the sandbox adapter switched on, loopback allowed for re-checks, short re-check cadences.

Settings are passed on as environment variables before the tracker reads its settings; values
an operator set keep precedence wherever the demo does not have to decide them itself.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from platform_adapters.simulators.sandbox import SandboxServer
from tracker.demo.mail import MailSink
from tracker.runtime import private_folder
from tracker.settings import Settings, get_settings

DEMO_POLICY_DIR = Path(__file__).parent / "policies"
DEMO_JURISDICTION = "DEMO"
#: The simulator acknowledges a report after 5 s and decides it after 15 s.
SIMULATOR_TIMINGS = {"ack_after": 5.0, "decide_after": 15.0}
#: Applied with ``setdefault``: an operator's own value wins.
DEMO_DEFAULTS = {
    "TRACKER_SANDBOX_ENABLED": "true",
    "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "20",
    "TRACKER_CONFIRM_INTERVAL_SECONDS": "10",
    "TRACKER_POLL_INTERVAL_SECONDS": "5",
}


class DemoError(RuntimeError):
    """The demo cannot start; the message is one line for the operator."""


@dataclass
class Demo:
    """The running demo companions; ``stop`` ends them."""

    sandbox_base_url: str
    simulator: SandboxServer | None = None
    mail: MailSink | None = None
    messages: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the simulator and the mail sink (those the demo started)."""
        if self.simulator is not None:
            self.simulator.stop()
        if self.mail is not None:
            self.mail.stop()


def _named_address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise DemoError(f"TRACKER_SANDBOX_BASE_URL must be http://host:port, not {base_url!r}")
    try:
        port = parts.port or 80
    except ValueError as error:
        raise DemoError(f"TRACKER_SANDBOX_BASE_URL has an invalid port: {base_url!r}") from error
    return parts.hostname, port


def _is_sandbox(base_url: str) -> bool:
    """Whether a sandbox simulator already answers at ``base_url``."""
    try:
        response = httpx.get(f"{base_url}/_sim/stats", timeout=2, trust_env=False)
        return response.status_code == 200 and "report_posts" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def _start_simulator(settings: Settings) -> tuple[str, SandboxServer | None]:
    token = settings.sandbox_api_token.get_secret_value()
    if "sandbox_base_url" not in settings.model_fields_set:
        simulator = SandboxServer(
            port=0,
            api_token=token,
            ack_after=SIMULATOR_TIMINGS["ack_after"],
            decide_after=SIMULATOR_TIMINGS["decide_after"],
        )
        simulator.start()
        return simulator.base_url, simulator
    base_url = settings.sandbox_base_url.rstrip("/")
    host, port = _named_address(base_url)
    simulator = SandboxServer(host=host, port=port, api_token=token, **SIMULATOR_TIMINGS)
    try:
        simulator.start()
    except OSError as error:
        if _is_sandbox(base_url):
            return base_url, None
        raise DemoError(
            f"cannot run the sandbox simulator on {host}:{port} (TRACKER_SANDBOX_BASE_URL): "
            f"{error.strerror or error}; free that port or unset TRACKER_SANDBOX_BASE_URL"
        ) from error
    return simulator.base_url, simulator


def start_demo(environ: MutableMapping[str, str] = os.environ) -> Demo:
    """Start the demo's companions and set the settings they imply (before settings are read)."""
    settings = Settings()  # read afresh: what did the operator name (environment or .env)?
    named = settings.model_fields_set
    base_url, simulator = _start_simulator(settings)
    demo = Demo(sandbox_base_url=base_url, simulator=simulator)
    if simulator is None:
        demo.messages.append(f"Sandbox platform simulator already running at {base_url}; using it")
    else:
        demo.messages.append(f"Sandbox platform simulator at {base_url}")
    environ["TRACKER_SANDBOX_BASE_URL"] = base_url
    try:
        if not {"smtp_host", "smtp_port"} & named:
            private_folder(settings.data_dir)  # before the sink creates its folder inside
            demo.mail = MailSink(settings.data_dir / "demo-mail")
            demo.mail.start()
            environ["TRACKER_SMTP_HOST"] = demo.mail.host
            environ["TRACKER_SMTP_PORT"] = str(demo.mail.port)
            environ["TRACKER_SMTP_STARTTLS"] = "false"
            demo.messages.append(
                f"Demo mail sink on {demo.mail.host}:{demo.mail.port}: every e-mail is saved "
                f"in {demo.mail.folder}/"
            )
    except OSError as error:
        demo.stop()
        raise DemoError(f"cannot start the demo mail sink: {error.strerror or error}") from error
    dirs = [str(path) for path in settings.policy_dirs]
    if str(DEMO_POLICY_DIR) not in dirs:
        environ["TRACKER_POLICY_DIRS"] = ",".join([*dirs, str(DEMO_POLICY_DIR)])
    # The demo fetches the simulator on loopback, so allow exactly that host, explicitly.
    environ.setdefault("TRACKER_OUTBOUND_ALLOWLIST", urlsplit(base_url).hostname or "127.0.0.1")
    for name, value in DEMO_DEFAULTS.items():
        environ.setdefault(name, value)
    demo.messages.append(
        f'Demo policy: cases with "jurisdictions": ["{DEMO_JURISDICTION}"] escalate every '
        "2 minutes while a URL stays up"
    )
    _forget_settings()
    return demo


def _forget_settings() -> None:
    from tracker.channels import directory

    get_settings.cache_clear()
    directory.cache_clear()
