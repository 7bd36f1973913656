"""The `tracker` command: serve, worker, scheduler, db upgrade, users create, keys generate."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from tracker.organisations.models import Role

app = typer.Typer(help="Takedown-request tracker.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Organisation users and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request URL at INFO; a leaked URL is itself sensitive, so keep it out.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


DEMO_ORGANISATION = "Demo helpline"


def _first_admin_key(database) -> str | None:  # type: ignore[no-untyped-def]
    """Create the first organisation and admin on an empty database; the key, shown once."""
    from sqlmodel import select

    from tracker.organisations.models import User
    from tracker.organisations.service import create_user, get_or_create_organisation
    from tracker.settings import get_settings

    with database.transaction() as session:
        if session.exec(select(User.id)).first() is not None:
            return None
        organisation = get_or_create_organisation(
            session=session,
            name=DEMO_ORGANISATION,
            contact_email=get_settings().organisation_email,
        )
        assert organisation.id is not None
        _, key = create_user(
            session=session,
            organisation_id=organisation.id,
            display_name="First admin",
            role=Role.ADMIN,
            actor="system",
        )
    return key


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    demo: Annotated[bool, typer.Option(help="Also run the sandbox platform simulator")] = False,
) -> None:
    """Run the API. In the embedded default this also runs the scheduler and the tasks."""
    _configure_logging()
    simulator = None
    if demo:
        from platform_adapters.simulators.sandbox import SandboxServer

        simulator = SandboxServer(port=8765, ack_after=5, decide_after=15)
        simulator.start()
        # The demo fetches the simulator on loopback, so allow exactly that host, explicitly.
        os.environ.setdefault("TRACKER_SANDBOX_BASE_URL", simulator.base_url)
        os.environ.setdefault("TRACKER_OUTBOUND_ALLOWLIST", "127.0.0.1")
        os.environ.setdefault("TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS", "20")
        os.environ.setdefault("TRACKER_CONFIRM_INTERVAL_SECONDS", "10")
        os.environ.setdefault("TRACKER_POLL_INTERVAL_SECONDS", "5")
    import uvicorn

    from tracker.api.app import create_app
    from tracker.jobs import install_dispatcher
    from tracker.runtime import database
    from tracker.settings import RunMode, get_settings
    from workers.scheduler import build_scheduler

    settings = get_settings()
    db = database()
    scheduler = runner = None
    if settings.run_mode is RunMode.EMBEDDED:
        from workers.dispatch import InProcessRunner

        runner = InProcessRunner()
        install_dispatcher(runner.dispatch)
        scheduler = build_scheduler(db, settings, blocking=False)
        scheduler.start()
    else:
        from workers.dispatch import celery_dispatcher

        install_dispatcher(celery_dispatcher())
    listen_host, listen_port = host or settings.host, port or settings.port
    key = _first_admin_key(db)
    typer.echo(f"Tracker ({settings.run_mode.value}) at http://{listen_host}:{listen_port}/docs")
    if simulator is not None:
        typer.echo(f"Sandbox platform simulator at {simulator.base_url}")
    if key is not None:
        typer.echo(f"First admin API key (shown once, keep it safe): {key}")
    try:
        uvicorn.run(create_app(db), host=listen_host, port=listen_port, log_level="info")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if runner is not None:
            runner.shutdown()
        if simulator is not None:
            simulator.stop()


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Queues to consume")] = (
        "filing,polling,rechecks,escalation,notifications"
    ),
    concurrency: Annotated[int, typer.Option(help="Worker processes")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo")] = "prefork",
) -> None:
    """Run a Celery worker (distributed mode)."""
    _configure_logging()
    from tracker.jobs import install_dispatcher
    from workers.celery_app import app as celery
    from workers.dispatch import celery_dispatcher

    install_dispatcher(celery_dispatcher())
    celery.worker_main(
        [
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "-P",
            pool,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def scheduler() -> None:
    """Run the one scheduler (distributed mode): sweeps the database and enqueues due work."""
    _configure_logging()
    from tracker.jobs import install_dispatcher
    from tracker.runtime import database
    from tracker.settings import get_settings
    from workers.dispatch import celery_dispatcher
    from workers.scheduler import build_scheduler

    install_dispatcher(celery_dispatcher())
    settings = get_settings()
    typer.echo("Scheduler running; it only enqueues, workers do the work.")
    build_scheduler(database(), settings, blocking=True).start()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema and record the policy files."""
    from tracker.runtime import open_database
    from tracker.settings import get_settings

    open_database(get_settings(), upgrade=True)
    typer.echo("Database is at the newest schema.")


@users_app.command("create")
def users_create(
    organisation: Annotated[str, typer.Option(help="Organisation name (created if new)")],
    name: Annotated[str, typer.Option(help="The user's display name")],
    role: Annotated[Role, typer.Option(help="caseworker, supervisor, dashboard or admin")],
    organisation_email: Annotated[
        str, typer.Option(help="Organisation's contact e-mail for filings")
    ] = "takedowns@helpline.example",
) -> None:
    """Create an organisation user and print their API key, once."""
    from tracker.organisations.service import create_user, get_or_create_organisation
    from tracker.runtime import database

    with database().transaction() as session:
        org = get_or_create_organisation(
            session=session, name=organisation, contact_email=organisation_email
        )
        assert org.id is not None
        user, key = create_user(
            session=session, organisation_id=org.id, display_name=name, role=role, actor="cli"
        )
    typer.echo(f"user {user.id} ({role.value}) in organisation {org.id}")
    typer.echo(f"API key (shown once): {key}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new encryption key for TRACKER_ENCRYPTION_KEYS."""
    from tracker.crypto import new_key

    sys.stdout.write(new_key().get_secret_value() + "\n")


if __name__ == "__main__":
    app()
