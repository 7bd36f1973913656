"""A loopback fleet for the re-check benchmarks: nginx serving generated pages on four hosts.

The fleet is generated from a seed: ``size`` distinct URLs spread round-robin over
127.0.0.1:8081 … 127.0.0.4:8084, with 70 % live pages (200), 20 % missing (404), 5 % permanent
redirects to a live page (301 → 200) and 5 % soft-404 pages (200 whose title says "This content
isn't available"). A slice of the live pages is served slowly (nginx ``limit_rate``), so they take
about ``0.5 s``. The ground truth says, per URL, which verdict a correct checker gives.

nginx runs in the foreground under ``timeout``, so it stops by itself even if the benchmark dies.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOSTS: tuple[tuple[str, int], ...] = tuple(
    (f"127.0.0.{index}", 8080 + index) for index in range(1, 5)
)
#: Share of each kind among the fleet's URLs (the rest, 70 %, are live pages).
SHARES = {"missing": 0.20, "redirect": 0.05, "soft404": 0.05}
#: Share of the live pages that are served slowly.
SLOW_SHARE = 0.005
SLOW_BODY_BYTES = 2048
#: nginx's rate for slow pages in bytes per second: the body trickles out over about 0.5 s.
SLOW_RATE_BYTES = 4096
#: The fleet stops by itself after this many seconds whatever happens to the benchmark.
MAX_LIFETIME_SECONDS = 1800

LIVE_TEMPLATE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Post {id}</title></head>'
    "<body><article><h1>Post {id}</h1><p>{filler}</p></article></body></html>\n"
)
SOFT404_TEMPLATE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>This content isn\'t available'
    "</title></head><body><p>This content isn't available right now.</p></body></html>\n"
)
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 6


@dataclass(frozen=True)
class Target:
    """One fleet URL and the verdict a correct checker reports for it."""

    url: str
    kind: str  # live | slow | missing | redirect | soft404
    expected: str  # live | removed


def build_fleet(root: Path, size: int, seed: int = 20261123) -> list[Target]:
    """Write the pages under ``root/www`` and return the ground truth, in check order."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible fleet, not a secret
    www = root / "www"
    for folder in ("p", "s"):
        (www / folder).mkdir(parents=True, exist_ok=True)
    kinds = ["live"] * size
    counts = {kind: round(size * share) for kind, share in SHARES.items()}
    position = 0
    for kind, count in counts.items():
        kinds[position : position + count] = [kind] * count
        position += count
    live_count = size - position
    slow_count = max(1, round(live_count * SLOW_SHARE))
    kinds[position : position + slow_count] = ["slow"] * slow_count
    rng.shuffle(kinds)
    targets: list[Target] = []
    for index, kind in enumerate(kinds):
        host, port = HOSTS[index % len(HOSTS)]
        page_id = f"{index:06d}{rng.getrandbits(32):08x}"
        base = f"http://{host}:{port}"
        if kind == "live":
            _write(www / "p" / f"{page_id}.html", LIVE_TEMPLATE.format(id=page_id, filler=FILLER))
            targets.append(Target(f"{base}/p/{page_id}.html", kind, "live"))
        elif kind == "slow":
            body = LIVE_TEMPLATE.format(id=page_id, filler=FILLER)
            body = body.replace("</body>", " " * max(0, SLOW_BODY_BYTES - len(body)) + "</body>")
            _write(www / "s" / f"{page_id}.html", body)
            targets.append(Target(f"{base}/s/{page_id}.html", kind, "live"))
        elif kind == "missing":
            targets.append(Target(f"{base}/p/{page_id}.html", kind, "removed"))
        elif kind == "redirect":
            _write(www / "p" / f"{page_id}.html", LIVE_TEMPLATE.format(id=page_id, filler=FILLER))
            targets.append(Target(f"{base}/r/{page_id}", kind, "live"))
        else:
            _write(www / "p" / f"{page_id}.html", SOFT404_TEMPLATE)
            targets.append(Target(f"{base}/p/{page_id}.html", kind, "removed"))
    return targets


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)


def nginx_config(root: Path, worker_processes: int) -> str:
    """An nginx configuration serving ``root/www`` on every fleet host, all state under root."""
    servers = "\n".join(
        f"""    server {{
        listen {host}:{port} backlog=4096;
        root {root / "www"};
        location /p/ {{ }}
        location /s/ {{ limit_rate_after 0; limit_rate {SLOW_RATE_BYTES}; }}
        location ~ ^/r/(\\w+)$ {{ return 301 /p/$1.html; }}
    }}"""
        for host, port in HOSTS
    )
    return f"""worker_processes {worker_processes};
daemon off;
pid {root / "nginx.pid"};
error_log {root / "error.log"} warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    default_type text/html;
    types {{ text/html html; }}
    charset utf-8;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    open_file_cache max=50000 inactive=600s;
    open_file_cache_errors on;
    server_tokens off;
    # LinkChecker stays at 10 requests/s per host unless the server names it in a header.
    add_header LinkChecker fleet always;
    client_body_temp_path {root / "tmp"};
    proxy_temp_path {root / "tmp"};
    fastcgi_temp_path {root / "tmp"};
    uwsgi_temp_path {root / "tmp"};
    scgi_temp_path {root / "tmp"};
{servers}
}}
"""


def find_nginx() -> str:
    """The nginx binary, or an explanation of how to install it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SystemExit("nginx is not installed: apt-get install -y nginx (see bench/README.md)")
    return found


@contextlib.contextmanager
def running_fleet(
    size: int, *, worker_processes: int = 1, seed: int = 20261123
) -> Iterator[list[Target]]:
    """Generate the fleet, run nginx for it, yield the ground truth, then stop and clean up."""
    nginx = find_nginx()
    root = Path(tempfile.mkdtemp(prefix="recheck-fleet-"))
    root.chmod(0o755)
    process: subprocess.Popen[bytes] | None = None
    try:
        targets = build_fleet(root, size, seed)
        (root / "tmp").mkdir()
        for folder in (root / "www", root / "www" / "p", root / "www" / "s"):
            folder.chmod(0o755)
        config = root / "nginx.conf"
        config.write_text(nginx_config(root, worker_processes))
        timeout = shutil.which("timeout") or "/usr/bin/timeout"
        process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            [timeout, str(MAX_LIFETIME_SECONDS), nginx, "-p", str(root), "-c", str(config)],
            stdin=subprocess.DEVNULL,
        )
        _wait_until_listening(process, root)
        yield targets
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # timeout passes it on to nginx
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_listening(process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    pending = list(HOSTS)
    while pending:
        if process.poll() is not None:
            log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}: {log[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nginx is not listening on {pending}")
        host, port = pending[0]
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex((host, port)) == 0:
                pending.pop(0)
                continue
        time.sleep(0.05)


def write_ground_truth(targets: list[Target], path: Path) -> None:
    """Write the ground truth as JSON lines (url, kind, expected verdict)."""
    with path.open("w", encoding="utf-8") as out:
        for target in targets:
            record = {"url": target.url, "kind": target.kind, "expected": target.expected}
            out.write(json.dumps(record))
            out.write("\n")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run the loopback fleet for a while.")
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--ground-truth", type=Path, default=Path("bench/results/ground-truth.jsonl")
    )
    arguments = parser.parse_args()
    with running_fleet(arguments.size) as fleet:
        arguments.ground_truth.parent.mkdir(parents=True, exist_ok=True)
        write_ground_truth(fleet, arguments.ground_truth)
        print(f"fleet of {len(fleet)} URLs up; truth in {arguments.ground_truth}", flush=True)
        time.sleep(min(arguments.seconds, MAX_LIFETIME_SECONDS - 60))
