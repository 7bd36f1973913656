"""Issue 12: counters and histograms of the work, scraped from /metrics.

Real work drives them (a URL logged and filed on the sandbox simulator, re-checks through the
engine, webhook deliveries to a loopback receiver, sweeps, in-process jobs); the scrape is
parsed with prometheus_client's own parser. Counts are compared before and after, since the
test process's memory keeps counting across tests (organisation ids come back after each
test's truncation). Increments made in other processes reach the API through Redis, under a
key namespace of the test's own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from conftest import REDIS_URL, reset_settings
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlmodel import col
from test_escalation_depth import WebhookReceiver, deliveries
from test_filing_flow import filings_of, log_url
from test_recheck_flow import filed_report

from platform_adapters.base import Verdict
from platform_adapters.directory import load_directory
from platform_adapters.registry import ADAPTERS
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.filings.models import AttemptOutcome
from tracker.jobs import QUEUES, JobKind, install_dispatcher
from tracker.metrics import observe_time_to_removal
from tracker.metrics.labels import SWEEPS
from tracker.metrics.recorder import Recorder, RedisRelay, recorder
from tracker.notifications.models import NotificationDelivery
from tracker.organisations.models import Role
from tracker.reports.models import Report
from tracker.settings import get_settings
from workers import jobs
from workers.dispatch import SENT_AT_HEADER, InProcessRunner
from workers.scheduler import SWEEPS as SCHEDULER_SWEEPS
from workers.scheduler import build_scheduler, sweep_warnings

OTHER = "other"
HOUR = 3600.0

#: Each new family: its type, and each label's enumeration (independent of tracker.metrics).
FAMILIES: dict[str, tuple[str, dict[str, set[str]]]] = {
    "tracker_checks": ("counter", {"verdict": {str(v) for v in Verdict} | {OTHER}}),
    "tracker_filings": (
        "counter",
        {
            "adapter": set(ADAPTERS) | {OTHER},
            "outcome": {str(o) for o in AttemptOutcome} | {OTHER},
        },
    ),
    "tracker_deliveries": (
        "counter",
        {
            "channel": {"email", "webhook", OTHER},
            "outcome": {"delivered", "retrying", "failed", OTHER},
        },
    ),
    "tracker_time_to_removal_seconds": (
        "histogram",
        {"platform": set(load_directory(sandbox_enabled=True).platforms) | {"web", OTHER}},
    ),
    "tracker_job_latency_seconds": ("histogram", {"queue": set(QUEUES.values()) | {OTHER}}),
    "tracker_sweep_duration_seconds": ("histogram", {"sweep": set(SCHEDULER_SWEEPS) | {OTHER}}),
    "tracker_queue_depth": ("gauge", {"queue": set(QUEUES.values()) | {OTHER}}),
}
#: What no label value may look like: an id, a URL, a host or an address.
FORBIDDEN = re.compile(r"^\d+$|://|/|@|\d+\.\d+\.\d+\.\d+|\.(com|org|net|example)\b")


# --- scraping ---


def scrape(client, headers) -> dict[str, object]:
    """The families of one /metrics scrape, by name."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def sample(families, family: str, name: str, **labels: str) -> float:
    """The value of one sample (0 if it is absent)."""
    found = [
        s.value
        for s in families[family].samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (family, name, labels, found)
    return found[0] if found else 0.0


def checks(families, verdict: str) -> float:
    return sample(families, "tracker_checks", "tracker_checks_total", verdict=verdict)


def assert_bounded(families) -> None:
    """Every new family has its type, and every label name and value is of its enumeration."""
    for name, (kind, enumerations) in FAMILIES.items():
        assert name in families, name
        family = families[name]
        assert family.type == kind, (name, family.type)
        for item in family.samples:
            names = set(item.labels) - ({"le"} if kind == "histogram" else set())
            assert names == set(enumerations), (name, item.labels)
            for label, value in item.labels.items():
                if label == "le":
                    assert value == "+Inf" or float(value) > 0, item
                    continue
                assert value in enumerations[label], (name, label, value)
                assert not FORBIDDEN.search(value), (name, label, value)


@pytest.fixture
def metrics_key(db, people) -> dict[str, str]:
    return people.add("scraper", "helpline", Role.METRICS)


@pytest.fixture
def outsider_key(db, people) -> dict[str, str]:
    return people.add("scraper-other", "other", Role.METRICS)


def organisation_of(client, people, who: str) -> int:
    return int(client.get("/api/v1/me", headers=people.auth(who)).json()["organisation_id"])


# --- access ---


def test_metrics_keeps_its_access_rule(client, people, metrics_key):
    assert client.get("/metrics").status_code == 401
    for who in ("alice", "supervisor", "dashboard"):
        assert client.get("/metrics", headers=people.auth(who)).status_code == 403, who
    families = scrape(client, metrics_key)
    assert_bounded(families)
    # The database's gauges are still there.
    for name in ("tracker_reports", "tracker_reports_overdue", "tracker_alerts_open"):
        assert families[name].type == "gauge"


# --- checks ---


def test_rechecks_count_by_verdict_for_their_organisation_only(
    client, people, db, sandbox, metrics_key, outsider_key
):
    report_ids = [filed_report(client, people, db, sandbox)[0] for _ in range(2)]
    before, theirs_before = scrape(client, metrics_key), scrape(client, outsider_key)
    # One batch through the engine, against the simulator: both pages are live.
    assert jobs.recheck_batch(report_ids, db=db) == 2
    after, theirs_after = scrape(client, metrics_key), scrape(client, outsider_key)
    assert checks(after, "live") - checks(before, "live") == 2
    for verdict in Verdict:
        if verdict is not Verdict.LIVE:
            assert checks(after, verdict) == checks(before, verdict), verdict
    for verdict in Verdict:
        assert checks(theirs_after, verdict) == checks(theirs_before, verdict)
    assert_bounded(after)


def test_a_rolled_back_check_is_not_counted(client, people, db, sandbox, metrics_key):
    report_id, _ = filed_report(client, people, db, sandbox)
    before = scrape(client, metrics_key)
    with pytest.raises(RuntimeError), db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict="removed",
            reason="test",
            http_status=404,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )
        raise RuntimeError("the transaction fails after the check was written")
    assert checks(scrape(client, metrics_key), "removed") == checks(before, "removed")


def test_a_metrics_failure_never_fails_the_check(
    client, people, db, sandbox, metrics_key, monkeypatch
):
    report_id, _ = filed_report(client, people, db, sandbox)

    def broken():
        raise RuntimeError("metrics store broken (simulated)")

    monkeypatch.setattr("tracker.metrics.record.recorder", broken)
    assert jobs.recheck_batch([report_id], db=db) == 1
    with db.session() as session:
        assert session.get(Report, report_id).last_verdict == "live"


# --- filings ---


def test_filing_attempts_count_by_adapter_and_outcome(client, people, db, sandbox, metrics_key):
    before = scrape(client, metrics_key)
    # The simulator answers a flaky- slug's first two POSTs with 503: two transient errors.
    report_id = log_url(client, people, f"{sandbox.base_url}/videos/flaky-{time.monotonic_ns()}")
    [filing] = filings_of(db, report_id)
    for expected in ("transient", "transient", "filed"):
        with db.transaction() as session:  # past the Retry-After without waiting for it
            session.execute(
                update(filing.__class__)
                .where(col(filing.__class__.id) == filing.id)
                .values(next_attempt_at=utcnow())
            )
        assert jobs.file_filing(filing.id, db=db) == expected
    after = scrape(client, metrics_key)

    def filed(outcome: str, families) -> float:
        return sample(
            families, "tracker_filings", "tracker_filings_total", adapter="sandbox", outcome=outcome
        )

    assert filed("transient_error", after) - filed("transient_error", before) == 2
    assert filed("succeeded", after) - filed("succeeded", before) == 1
    assert filed("permanent_error", after) == filed("permanent_error", before)
    assert_bounded(after)


# --- deliveries ---


def test_deliveries_count_by_channel_and_outcome(client, people, db, sandbox, metrics_key):
    webhook = WebhookReceiver([500, 200])
    try:
        hook = client.put(
            "/api/v1/organisation/webhook",
            json={"url": webhook.url, "secret": "fake-webhook-secret-0123456789abcdef"},
            headers=people.auth("admin"),
        )
        assert hook.status_code == 200, hook.text
        report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
        with db.transaction() as session:
            session.execute(
                update(Report).where(col(Report.id) == report_id).values(warn_at=utcnow())
            )
        before = scrape(client, metrics_key)
        assert sweep_warnings(db, get_settings()) == 1
        [delivery] = deliveries(db)
        assert jobs.deliver_notification(delivery.id, db=db) == "failed"  # 500: retried later
        with db.transaction() as session:
            session.execute(update(NotificationDelivery).values(next_attempt_at=utcnow()))
        assert jobs.deliver_notification(delivery.id, db=db) == "delivered"
        after = scrape(client, metrics_key)
    finally:
        webhook.close()

    def delivered(outcome: str, families) -> float:
        return sample(
            families,
            "tracker_deliveries",
            "tracker_deliveries_total",
            channel="webhook",
            outcome=outcome,
        )

    assert delivered("retrying", after) - delivered("retrying", before) == 1
    assert delivered("delivered", after) - delivered("delivered", before) == 1
    assert delivered("failed", after) == delivered("failed", before)
    assert_bounded(after)


# --- histograms and the queue gauge ---


def test_time_to_removal_buckets_and_bounded_platform(
    client, people, db, metrics_key, outsider_key
):
    ours = organisation_of(client, people, "scraper")
    name = "tracker_time_to_removal_seconds"
    before, theirs_before = scrape(client, metrics_key), scrape(client, outsider_key)
    observe_time_to_removal(organisation_id=ours, platform="sandbox", seconds=1.5 * HOUR)
    # A value that is no platform of the directory is never a label: it counts as "other".
    observe_time_to_removal(
        organisation_id=ours, platform="https://leak.example/u/1234", seconds=40 * 24 * HOUR
    )
    after, theirs_after = scrape(client, metrics_key), scrape(client, outsider_key)

    def delta(sample_name: str, **labels: str) -> float:
        return sample(after, name, sample_name, **labels) - sample(
            before, name, sample_name, **labels
        )

    assert delta(f"{name}_bucket", platform="sandbox", le="3600.0") == 0
    assert delta(f"{name}_bucket", platform="sandbox", le="7200.0") == 1
    assert delta(f"{name}_bucket", platform="sandbox", le="+Inf") == 1
    assert delta(f"{name}_count", platform="sandbox") == 1
    assert delta(f"{name}_sum", platform="sandbox") == pytest.approx(1.5 * HOUR)
    assert delta(f"{name}_bucket", platform=OTHER, le="2.592e+06") == 0  # beyond 30 days
    assert delta(f"{name}_bucket", platform=OTHER, le="+Inf") == 1
    assert sample(theirs_after, name, f"{name}_count", platform="sandbox") == sample(
        theirs_before, name, f"{name}_count", platform="sandbox"
    )
    assert_bounded(after)


def test_sweeps_are_timed_by_name(client, db, metrics_key):
    name = "tracker_sweep_duration_seconds"
    before = scrape(client, metrics_key)
    scheduler = build_scheduler(db, get_settings(), blocking=False)
    scheduler.get_job("sweep_polls").func()
    scheduler.get_job("watchdog").func()
    after = scrape(client, metrics_key)
    count = f"{name}_count"
    for sweep in ("sweep_polls", "watchdog"):
        assert (
            sample(after, name, count, sweep=sweep) - sample(before, name, count, sweep=sweep) == 1
        )
    assert sample(after, name, f"{name}_count", sweep="sweep_checks") == sample(
        before, name, f"{name}_count", sweep="sweep_checks"
    )


def test_sweep_names_are_the_schedulers():
    assert set(SWEEPS) == set(SCHEDULER_SWEEPS)


def test_in_process_jobs_report_latency_and_queue_depth(client, metrics_key, monkeypatch):
    release, started = threading.Event(), threading.Event()
    ran: list[int] = []

    def blocked(report_id: int) -> bool:
        started.set()
        release.wait(5)
        ran.append(report_id)
        return False

    monkeypatch.setitem(jobs.JOBS, "escalate_report", blocked)
    runner = InProcessRunner(workers=1, recheck_workers=1)
    install_dispatcher(runner.dispatch, runner.depth)
    name = "tracker_job_latency_seconds"
    try:
        before = scrape(client, metrics_key)
        for report_id in (1, 2, 3):
            runner.dispatch(JobKind.ESCALATE, (report_id,))
        assert started.wait(5)
        during = scrape(client, metrics_key)
        # One runs, two wait in the escalation queue; nothing waits elsewhere.
        assert sample(during, "tracker_queue_depth", "tracker_queue_depth", queue="escalation") == 2
        assert sample(during, "tracker_queue_depth", "tracker_queue_depth", queue="filing") == 0
        release.set()
        deadline = time.monotonic() + 5
        while len(ran) < 3:
            assert time.monotonic() < deadline, ran
            time.sleep(0.01)
        after = scrape(client, metrics_key)
    finally:
        release.set()
        runner.shutdown()
        install_dispatcher(None)
    count = f"{name}_count"
    assert (
        sample(after, name, count, queue="escalation")
        - sample(before, name, count, queue="escalation")
        == 3
    )
    assert sample(after, name, count, queue="rechecks") == sample(
        before, name, count, queue="rechecks"
    )
    assert_bounded(after)


def test_a_celery_job_reports_its_latency_from_its_header(client, metrics_key, monkeypatch):
    from workers.tasks import escalate_report

    monkeypatch.setattr(jobs, "escalate_report", lambda report_id: False)
    name = "tracker_job_latency_seconds"
    before = scrape(client, metrics_key)
    # Run through Celery's own tracer (signals included), sent "2.5 s ago".
    escalate_report.apply(args=[1], headers={SENT_AT_HEADER: time.time() - 2.5})
    escalate_report.apply(args=[2])  # no header: sent by something else, not observed
    after = scrape(client, metrics_key)

    def delta(sample_name: str, **labels: str) -> float:
        return sample(after, name, sample_name, **labels) - sample(
            before, name, sample_name, **labels
        )

    assert delta(f"{name}_count", queue="escalation") == 1
    assert delta(f"{name}_bucket", queue="escalation", le="2.5") == 0
    assert delta(f"{name}_bucket", queue="escalation", le="5.0") == 1
    assert 2.5 <= delta(f"{name}_sum", queue="escalation") < 10


def test_the_celery_dispatcher_writes_when_it_sent_each_job(monkeypatch):
    from workers.celery_app import app
    from workers.dispatch import celery_dispatcher

    sent: list[dict] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append(options))
    before = time.time()
    celery_dispatcher()(JobKind.WITHDRAW, (7,))
    [options] = sent
    assert options["queue"] == "filing" and options["args"] == [7]
    assert before <= options["headers"][SENT_AT_HEADER] <= time.time()


# --- other processes, through Redis ---


@contextmanager
def distributed(**environment: str) -> Iterator[None]:
    """This process as a distributed one (the API) for a while; then the test settings again,
    the distributed recorder closed (its last flush made)."""
    names = ["TRACKER_RUN_MODE", *environment]
    saved = {name: os.environ.get(name) for name in names}
    reset_settings(TRACKER_RUN_MODE="distributed", **environment)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()
        recorder()


@pytest.fixture
def shared_namespace() -> Iterator[str]:
    """This process as the distributed API, its metrics under a Redis namespace of its own."""
    namespace = f"test-metrics-{uuid.uuid4().hex}"
    try:
        with distributed(TRACKER_REDIS_URL=REDIS_URL, TRACKER_METRICS_NAMESPACE=namespace):
            yield namespace
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = client.keys(f"{namespace}:*")
        if keys:
            client.delete(*keys)


CHILD = """
import sys, time
from tracker.metrics.record import observe
from tracker.metrics.series import CHECKS
from tracker.metrics import observe_sweep, observe_time_to_removal

organisation_id = int(sys.argv[1])
observe(CHECKS, organisation_id=organisation_id, labels={"verdict": "removed"}, amount=3)
observe(CHECKS, organisation_id=organisation_id, labels={"verdict": "no such verdict"}, amount=1)
observe_time_to_removal(organisation_id=organisation_id, platform="sandbox", seconds=90000)
observe_sweep(sweep="sweep_checks", seconds=0.02)
print("recorded", flush=True)
if sys.argv[2] == "stay":
    time.sleep(60)
"""


def child(namespace: str, organisation_id: int, mode: str, **environment: str):
    env = {
        **os.environ,
        "TRACKER_RUN_MODE": "distributed",
        "TRACKER_REDIS_URL": REDIS_URL,
        "TRACKER_METRICS_NAMESPACE": namespace,
        **environment,
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", CHILD, str(organisation_id), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_counts_of_an_exiting_process_reach_the_api(
    client, people, metrics_key, outsider_key, shared_namespace
):
    ours = organisation_of(client, people, "scraper")
    # A flush interval far beyond the test: only the flush at exit can send the counts.
    process = child(shared_namespace, ours, "exit", TRACKER_METRICS_FLUSH_INTERVAL_SECONDS="60")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    families = scrape(client, metrics_key)
    assert checks(families, "removed") == 3
    assert checks(families, OTHER) == 1
    ttr = "tracker_time_to_removal_seconds"
    assert sample(families, ttr, f"{ttr}_count", platform="sandbox") == 1
    assert sample(families, ttr, f"{ttr}_bucket", platform="sandbox", le="86400.0") == 0
    assert sample(families, ttr, f"{ttr}_bucket", platform="sandbox", le="129600.0") == 1
    sweeps = "tracker_sweep_duration_seconds"
    assert sample(families, sweeps, f"{sweeps}_count", sweep="sweep_checks") == 1
    assert_bounded(families)
    # Another organisation's key sees none of it; the system's series it does.
    theirs = scrape(client, outsider_key)
    assert checks(theirs, "removed") == 0 and checks(theirs, OTHER) == 0
    assert sample(theirs, ttr, f"{ttr}_count", platform="sandbox") == 0
    assert sample(theirs, sweeps, f"{sweeps}_count", sweep="sweep_checks") == 1
    # The API's own increments add to Redis's, counted once whether flushed yet or not.
    observe_time_to_removal(organisation_id=ours, platform="sandbox", seconds=60)
    assert sample(scrape(client, metrics_key), ttr, f"{ttr}_count", platform="sandbox") == 2
    time.sleep(get_settings().metrics_flush_interval_seconds * 2.5)
    assert sample(scrape(client, metrics_key), ttr, f"{ttr}_count", platform="sandbox") == 2


def test_a_running_process_relays_its_counts_within_a_second_or_so(
    client, people, metrics_key, shared_namespace
):
    ours = organisation_of(client, people, "scraper")
    process = child(shared_namespace, ours, "stay")
    try:
        deadline = time.monotonic() + 20  # the child's start-up (imports) included
        while checks(scrape(client, metrics_key), "removed") != 3:
            if process.poll() is not None:
                pytest.fail(f"the child exited: {process.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the running process never flushed"
            time.sleep(0.1)
        assert process.poll() is None  # still running: its relay thread sent the counts
    finally:
        process.kill()
        process.wait(10)


# --- Redis away ---


def test_while_redis_is_away_counts_wait_in_memory_and_never_go_back():
    namespace = f"test-metrics-{uuid.uuid4().hex}"
    key = f"{namespace}:tracker_checks:org:1"
    relay = RedisRelay(REDIS_URL, retry_seconds=0.0)
    local = Recorder(relay=relay, flush_interval=60)
    try:
        local.add(key, {"live": 2})
        assert local.flush()
        assert local.read([key]) == {key: {"live": 2}}
        # Redis goes away: recording goes on, a flush keeps the counts, a read shows the last
        # values Redis gave plus what waits here.
        relay.client = redis.Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2
        )
        local.add(key, {"live": 1, "removed": 1})
        assert local.flush() is False
        assert local.read([key]) == {key: {"live": 3, "removed": 1}}
        # Back: what waited is sent once.
        relay.client = redis.Redis.from_url(REDIS_URL)
        relay.retry_now()
        assert local.flush()
        assert local.read([key]) == {key: {"live": 3, "removed": 1}}
        assert relay.client.hgetall(key) == {b"live": b"3", b"removed": b"1"}
    finally:
        local.close()
        redis.Redis.from_url(REDIS_URL).delete(key)


def test_an_unreachable_redis_never_fails_a_scrape_or_a_check(
    client, people, db, sandbox, metrics_key
):
    report_id, _ = filed_report(client, people, db, sandbox)
    with distributed(TRACKER_REDIS_URL="redis://127.0.0.1:1/0"):
        before = scrape(client, metrics_key)
        with db.transaction(immediate=True) as session:
            recorded = record_check(
                session=session,
                report_id=report_id,
                checked_at=utcnow(),
                verdict="removed",
                reason="test",
                http_status=404,
                final_url=None,
                fingerprint=None,
                latency_ms=1,
                error=None,
            )
        assert recorded is not None
        assert recorder().flush() is False  # nowhere to send it: it waits in memory
        after = scrape(client, metrics_key)
        assert checks(after, "removed") - checks(before, "removed") == 1
