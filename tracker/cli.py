"""The `tracker` command: serve, worker, scheduler, db upgrade, users, keys generate,
audit verify, import, export."""

from __future__ import annotations

import gc
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli_data import register as register_data_commands
from tracker.organisations.models import Role

if TYPE_CHECKING:
    from tracker.demo.startup import Demo

app = typer.Typer(help="Takedown-request tracker.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Organisation users and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
register_data_commands(app)  # import, export (tracker/cli_data.py)


def _configure_logging() -> None:
    from tracker.logs import configure_logging
    from tracker.settings import get_settings

    configure_logging(get_settings().log_format)


DEMO_ORGANISATION = "Demo helpline"


FIRST_ADMIN_LOGIN = "admin"


def _first_admin_key(database) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """Create the first organisation and admin on an empty database: their API key and
    one-time console password, shown once."""
    from sqlmodel import select

    from tracker.organisations.models import User
    from tracker.organisations.service import (
        create_user,
        get_or_create_organisation,
        give_console_access,
    )
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
        user, key = create_user(
            session=session,
            organisation_id=organisation.id,
            display_name="First admin",
            role=Role.ADMIN,
            actor="system",
        )
        password = give_console_access(
            session=session, user=user, login=FIRST_ADMIN_LOGIN, actor="system"
        )
    return key, password


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bind the API's socket before anything starts, so a taken port fails in one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every small answer waits ~40 ms for a delayed ACK (Nagle).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except (OSError, OverflowError) as error:
        listener.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise typer.Exit(_serve_error(f"cannot listen on {host}:{port}: {reason}")) from error
    return listener


def _serve_error(message: str) -> int:
    typer.echo(f"tracker serve: {message}", err=True)
    return 1


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free port)")] = None,
    demo: Annotated[
        bool,
        typer.Option(help="Also run the sandbox platform, a mail sink and the demo policy"),
    ] = False,
) -> None:
    """Run the API. In the embedded default this also runs the scheduler and the tasks."""
    _configure_logging()
    companions = None
    if demo:
        from tracker.demo.startup import DemoError, start_demo

        try:
            companions = start_demo()
        except DemoError as error:
            raise typer.Exit(_serve_error(str(error))) from error
    try:
        _serve(host, port, companions)
    finally:
        if companions is not None:
            companions.stop()


def _serve(host: str | None, port: int | None, companions: Demo | None) -> None:
    import uvicorn

    from tracker.api.app import create_app
    from tracker.jobs import install_dispatcher
    from tracker.runtime import database
    from tracker.settings import RunMode, get_settings
    from workers.scheduler import build_scheduler

    settings = get_settings()
    listen_host = host or settings.host
    listener = _listening_socket(listen_host, settings.port if port is None else port)
    listen_port = listener.getsockname()[1]
    db = database()
    scheduler = runner = None
    if settings.run_mode is RunMode.EMBEDDED:
        from workers.dispatch import InProcessRunner

        runner = InProcessRunner()
        install_dispatcher(runner.dispatch, runner.depth)
        scheduler = build_scheduler(db, settings, blocking=False)
    else:
        from workers.dispatch import celery_dispatcher, celery_queue_depth

        install_dispatcher(celery_dispatcher(), celery_queue_depth(settings.redis_url))
    first_admin = _first_admin_key(db)
    shown_host = f"[{listen_host}]" if ":" in listen_host else listen_host
    address = f"http://{shown_host}:{listen_port}"
    typer.echo(f"Console at {address}/ (sign in there)")
    typer.echo(f"Tracker ({settings.run_mode.value}) at {address}/docs")
    for line in companions.messages if companions is not None else []:
        typer.echo(line)
    if first_admin is not None:
        key, password = first_admin
        typer.echo(f"First admin API key (shown once, keep it safe): {key}")
        if companions is None:
            typer.echo(
                f"First admin sign-in: {FIRST_ADMIN_LOGIN}, one-time password (shown once; "
                f"choose your own at first sign-in): {password}"
            )
    if companions is not None:
        from tracker.demo.seed import seed_demo

        demo = seed_demo(
            db, organisation_name=DEMO_ORGANISATION, sandbox_base_url=companions.sandbox_base_url
        )
        typer.echo(
            f"Demo sign-in at {address}/sign-in: {demo.logins[0]} (or "
            f"{', '.join(demo.logins[1:])}), password {demo.password} (new at every demo start)"
        )
    if scheduler is not None:
        # Started once the demo is seeded: its history sets the tracker's clock back for a
        # moment (tracker.demo.history), which no sweep should read.
        scheduler.start()
    # uvicorn's default logging config would replace ours (tracker.logs) and bring its access
    # log back. That log is one switch for the whole process (each connection asks whether the
    # "uvicorn.access" logger has handlers), so it printed the simulator's requests, leaked-URL
    # paths included, despite the simulator's access_log=False. Keep ours, and no access log:
    # paths and queries can name a case's URL; errors are still logged with the request id.
    config = uvicorn.Config(
        create_app(db),
        log_config=None,
        log_level="info",
        access_log=False,
        lifespan="on",
        # The client address (which the authentication throttle counts by) comes from a
        # forwarding header only when it arrives from a proxy the operator named.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )
    # What start-up made (the app, its routes and models, the loaded modules) lives as long as
    # the process: moved out of the garbage collector's way, full collections stop walking it
    # (pauses of 100-280 ms were seen on requests while the heap grew).
    gc.freeze()
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if runner is not None:
            runner.shutdown()
            from workers.recheck.runtime import close_check_runtime

            close_check_runtime()


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
    from workers.dispatch import celery_dispatcher, celery_queue_depth
    from workers.scheduler import build_scheduler

    settings = get_settings()
    install_dispatcher(celery_dispatcher(), celery_queue_depth(settings.redis_url))
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
    role: Annotated[Role, typer.Option(help="caseworker, supervisor, dashboard, admin or metrics")],
    login: Annotated[
        str | None,
        typer.Option(help="Console sign-in name (default: from the display name)"),
    ] = None,
    organisation_email: Annotated[
        str, typer.Option(help="Organisation's contact e-mail for filings")
    ] = "takedowns@helpline.example",
) -> None:
    """Create an organisation user and print their API key, once. People (caseworker,
    supervisor, admin) also get a console sign-in name and a one-time password."""
    from tracker.errors import DomainError
    from tracker.organisations.passwords import CONSOLE_ROLES
    from tracker.organisations.service import (
        create_user,
        get_or_create_organisation,
        give_console_access,
        login_from_name,
    )
    from tracker.runtime import database

    password = None
    try:
        with database().transaction() as session:
            org = get_or_create_organisation(
                session=session, name=organisation, contact_email=organisation_email
            )
            assert org.id is not None
            user, key = create_user(
                session=session, organisation_id=org.id, display_name=name, role=role, actor="cli"
            )
            if role in CONSOLE_ROLES:
                sign_in = login or login_from_name(name) or f"user{user.id}"
                password = give_console_access(
                    session=session, user=user, login=sign_in, actor="cli"
                )
    except DomainError as error:
        raise _fail(f"tracker users create: {error}") from error
    typer.echo(f"user {user.id} ({role.value}) in organisation {org.id}")
    if password is not None:
        typer.echo(f"Sign-in name: {user.login}")
        typer.echo(f"One-time password (shown once; to be changed at first sign-in): {password}")
    typer.echo(f"API key (shown once): {key}")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


@users_app.command("list")
def users_list(
    organisation: Annotated[str, typer.Option(help="Organisation name")],
) -> None:
    """List an organisation's users: id, role, whether active, display name."""
    from tracker.organisations.service import find_organisation, list_users
    from tracker.runtime import database

    with database().transaction() as session:
        org = find_organisation(session=session, name=organisation)
        if org is None or org.id is None:
            raise _fail(f"no organisation named {organisation!r}")
        users = list_users(session=session, organisation_id=org.id)
    for user in users:
        state = "active" if user.is_active else "deactivated"
        typer.echo(f"{user.id}\t{user.role}\t{state}\t{user.display_name}")


@users_app.command("deactivate")
def users_deactivate(user_id: Annotated[int, typer.Argument(help="The user's id")]) -> None:
    """Deactivate a user: their keys stop at once and their sessions are cut (audited)."""
    from tracker.errors import DomainError
    from tracker.organisations.service import deactivate_user, get_user
    from tracker.runtime import database

    try:
        with database().transaction() as session:
            user = get_user(session=session, organisation_id=None, user_id=user_id)
            if user is None:
                raise _fail(f"no user {user_id}")
            revoked = deactivate_user(session=session, user=user, actor="cli")
    except DomainError as error:
        raise _fail(str(error)) from None
    typer.echo(f"user {user_id} deactivated; {revoked} key(s) revoked")


@users_app.command("new-key")
def users_new_key(user_id: Annotated[int, typer.Argument(help="The user's id")]) -> None:
    """Issue another API key to a user and print it, once; older keys keep working."""
    from tracker.errors import DomainError
    from tracker.organisations.service import get_user, new_key
    from tracker.runtime import database

    try:
        with database().transaction() as session:
            user = get_user(session=session, organisation_id=None, user_id=user_id)
            if user is None:
                raise _fail(f"no user {user_id}")
            api_key, key = new_key(session=session, user=user, actor="cli")
    except DomainError as error:
        raise _fail(str(error)) from None
    typer.echo(f"key {api_key.id} for user {user_id}")
    typer.echo(f"API key (shown once): {key}")


@users_app.command("revoke-key")
def users_revoke_key(key_id: Annotated[int, typer.Argument(help="The key's id")]) -> None:
    """Revoke one API key; it stops at once (audited)."""
    from tracker.errors import DomainError
    from tracker.organisations.service import get_key, revoke_key
    from tracker.runtime import database

    try:
        with database().transaction() as session:
            found = get_key(session=session, key_id=key_id, organisation_id=None)
            if found is None:
                raise _fail(f"no key {key_id}")
            api_key, user = found
            revoke_key(session=session, api_key=api_key, user=user, actor="cli")
    except DomainError as error:
        raise _fail(str(error)) from None
    typer.echo(f"key {key_id} revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 naming the first broken link if it is broken."""
    from tracker.audit.chain import verify_chain
    from tracker.runtime import database

    with database().session() as session:
        report = verify_chain(session=session)
    if report.intact:
        typer.echo(f"audit chain intact: {report.checked} events")
        return
    event = "(missing)" if report.broken_id is None else report.broken_id
    typer.echo(
        f"audit chain broken at event {event} (sequence {report.broken_sequence}): {report.reason}"
    )
    raise typer.Exit(code=1)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new encryption key for TRACKER_ENCRYPTION_KEYS."""
    from tracker.crypto import new_key

    sys.stdout.write(new_key().get_secret_value() + "\n")


if __name__ == "__main__":
    app()
