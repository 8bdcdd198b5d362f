"""The `assortment` command: serve, migrate, manage stores and keys, bulk-load products."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import TaskID
from sqlalchemy import func, select

from assortment.config import Settings
from assortment.db.engine import begin_write, in_snapshot, make_engine, make_session_factory
from assortment.db.models import ApiKey
from assortment.domain import auth
from assortment.domain.bulk_load import ImportReport
from assortment.errors import DomainError

app = typer.Typer(help="Assortment: a self-hostable product experience manager.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
stores_app = typer.Typer(help="Stores (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
products_app = typer.Typer(help="Products.", no_args_is_help=True)
catalogs_app = typer.Typer(help="Catalogs.", no_args_is_help=True)
prices_app = typer.Typer(help="Prices.", no_args_is_help=True)
users_app = typer.Typer(help="Workbench users (people who sign in at /admin).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(stores_app, name="stores")
app.add_typer(keys_app, name="keys")
app.add_typer(products_app, name="products")
app.add_typer(catalogs_app, name="catalogs")
app.add_typer(prices_app, name="prices")
app.add_typer(users_app, name="users")

err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to ASSORTMENT_DATABASE_URL."""
    from assortment.db.migrate import upgrade  # Alembic: only the commands that migrate load it

    upgrade(Settings())
    err.print("database is up to date")


@db_app.command("copy")
def db_copy(
    to: Annotated[str, typer.Option("--to", help="URL of the database to copy into (migrated first; must be empty)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the row counts as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
) -> None:
    """Copy every row of ASSORTMENT_DATABASE_URL into the database at --to (SQLite and PostgreSQL either
    way), keeping ids, timestamps and the signing key. Exit 2 (nothing written) when the target holds
    data; exit 1 when the row counts of the two differ at the end."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from assortment.db.copy import NotAtHead, TargetNotEmpty, copy_database
    from assortment.db.migrate import upgrade

    source_settings = Settings()
    target_settings = Settings(database_url=to)
    if target_settings.database_url == source_settings.database_url:
        err.print("[red]error:[/red] --to names the configured database itself; nothing was written")
        raise typer.Exit(code=2)
    upgrade(target_settings)
    source, target = make_engine(source_settings), make_engine(target_settings)
    try:
        with Progress(
            TextColumn("copying {task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=quiet,
        ) as bar:
            task = bar.add_task("", total=None)

            def progress(table: str, copied: int, total: int) -> None:
                bar.update(task, description=table, completed=copied, total=max(total, 1))

            report = copy_database(source, target, progress)
    except TargetNotEmpty as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from exc
    except NotAtHead as exc:
        raise _fail(str(exc)) from exc
    finally:
        source.dispose()
        target.dispose()
    if as_json:
        typer.echo(json.dumps(report.document()))
    for table, (expected, found) in report.differences.items():
        err.print(f"[red]row counts differ:[/red] {table}: {expected} in the source, {found} in the copy")
    if not report.ok:
        raise typer.Exit(code=1)
    err.print(
        f"copied {sum(report.source.values())} rows in {len(report.source)} tables in {report.seconds:.1f} s; "
        "row counts match",
        highlight=False,
    )


@stores_app.command("create")
def stores_create(
    name: Annotated[str, typer.Option("--name", help="Store name")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a store."""
    settings = Settings()
    sessions = make_session_factory(make_engine(settings))
    try:
        with sessions() as session:
            begin_write(session)
            store = auth.create_store(session, name)
            session.commit()
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    if as_json:
        typer.echo(json.dumps({"id": str(store.id), "name": store.name}))
    else:
        typer.echo(f"store {store.id} ({store.name})")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Key name")],
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="An organization key")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an API key; the secret is shown once."""
    settings = Settings()
    sessions = make_session_factory(make_engine(settings))
    store_id = None
    if store is not None:
        try:
            store_id = uuid.UUID(store)
        except ValueError as exc:
            raise _fail(f"--store must be a store id, got {store!r}") from exc
    try:
        with sessions() as session:
            begin_write(session)
            key = auth.create_key(session, name, store_id=store_id, organization=organization)
            session.commit()
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    document = {
        "client_id": key.client_id,
        "client_secret": key.client_secret,
        "owner": key.owner,
        "store_id": str(key.store_id) if key.store_id else None,
    }
    if as_json:
        typer.echo(json.dumps(document))
    else:
        for field, value in document.items():
            typer.echo(f"{field}: {value}")


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked twice at a prompt (not echoed)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="Email address (the sign-in name)")],
    role: Annotated[str, typer.Option("--role", help="viewer, editor or admin")],
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="An organization user")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a workbench user (password of at least 12 characters, stored as an argon2id hash)."""
    from assortment.domain import users

    store_id = None
    if store is not None:
        try:
            store_id = uuid.UUID(store)
        except ValueError as exc:
            raise _fail(f"--store must be a store id, got {store!r}") from exc
    password = _read_password(password_stdin)
    sessions = make_session_factory(make_engine(Settings()))
    try:
        with sessions() as session:
            begin_write(session)
            user = users.create_user(session, email, role, password, store_id=store_id, organization=organization)
            session.commit()
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    document = users.user_document(user)
    if as_json:
        typer.echo(json.dumps(document))
    else:
        typer.echo(f"user {document['email']} ({document['role']}, {document['owner']}) created")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List workbench users."""
    from assortment.domain import users

    sessions = make_session_factory(make_engine(Settings()))
    with sessions() as session:
        documents = [users.user_document(u) for u in users.list_users(session)]
    if as_json:
        typer.echo(json.dumps(documents))
    else:
        for d in documents:
            typer.echo(f"{d['email']}\t{d['role']}\t{d['owner']}\t{d['store_id'] or ''}")


@users_app.command("delete")
def users_delete(
    email: Annotated[str, typer.Option("--email", help="The user's email")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Delete a workbench user (their sessions end at once)."""
    from assortment.domain import users

    sessions = make_session_factory(make_engine(Settings()))
    try:
        with sessions() as session:
            begin_write(session)
            users.delete_user(session, email)
            session.commit()
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    typer.echo(json.dumps({"deleted": email.strip().lower()}) if as_json else f"deleted {email.strip()}")


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Option("--email", help="The user's email")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a user's password; the user is signed out everywhere."""
    from assortment.domain import users

    password = _read_password(password_stdin)
    sessions = make_session_factory(make_engine(Settings()))
    try:
        with sessions() as session:
            begin_write(session)
            users.set_password(session, email, password)
            session.commit()
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    err.print(f"password of {email.strip()} changed")


@products_app.command("import")
def products_import(
    file: Annotated[Path, typer.Argument(help="JSON lines (.jsonl/.ndjson/.json) or CSV (.csv) file", exists=True)],
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="Load organization products")] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction")] = 5000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
) -> None:
    """Load products, validating every row like the API does; bad rows are reported, good ones load."""
    from assortment.api import events as _renders_event_payloads  # noqa: F401  (product.created)
    from assortment.domain.product_import import import_products

    settings = Settings()
    sessions = make_session_factory(make_engine(settings))
    try:
        report = import_products(
            sessions,
            file,
            store_id=uuid.UUID(store) if store else None,
            organization=organization,
            batch_size=batch_size,
            progress=not quiet,
            console=err,
        )
    except (DomainError, ValueError) as exc:
        raise _fail(str(getattr(exc, "detail", None) or exc)) from exc
    _print_report(report, "products")


def _print_report(report: ImportReport, what: str) -> None:
    """One line per bad row, never wrapped to the terminal width, so the report can be grepped; exit 2
    when some rows were bad."""
    for line, message in report.errors[:200]:
        err.print(f"line {line}: {message}", markup=False, highlight=False, soft_wrap=True)
    if len(report.errors) > 200:
        err.print(f"… and {len(report.errors) - 200} more bad rows", soft_wrap=True)
    err.print(
        f"imported {report.imported} {what}, {len(report.errors)} bad rows, in {report.seconds:.1f} s",
        soft_wrap=True,
    )
    if report.errors:
        raise typer.Exit(code=2)


@prices_app.command("import")
def prices_import(
    file: Annotated[Path, typer.Argument(help="JSON lines (.jsonl/.ndjson) or CSV (.csv) file", exists=True)],
    pricebook: Annotated[str, typer.Option("--pricebook", help="Price book id")],
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="An organization price book")] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction")] = 5000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
) -> None:
    """Load prices into a price book, checking every row like the API does; bad rows are reported."""
    from assortment.api import events as _renders_event_payloads  # noqa: F401  (price.created)
    from assortment.domain.price_import import import_prices

    sessions = make_session_factory(make_engine(Settings()))
    try:
        report = import_prices(
            sessions,
            file,
            pricebook,
            store_id=uuid.UUID(store) if store else None,
            organization=organization,
            batch_size=batch_size,
            progress=not quiet,
            console=err,
        )
    except (DomainError, ValueError) as exc:
        raise _fail(str(getattr(exc, "detail", None) or exc)) from exc
    _print_report(report, "prices")


@catalogs_app.command("publish")
def catalogs_publish(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id")],
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="An organization catalog")] = False,
    full_delta: Annotated[bool, typer.Option("--full-delta", help="List every product in the delta")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the release as JSON")] = False,
) -> None:
    """Publish a catalog as a new release: the same code path as POST /pcm/catalogs/{id}/releases."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from sqlalchemy.orm import Session

    from assortment.api import catalog_documents as _renders_releases  # noqa: F401  (catalog-release.created)
    from assortment.db.models import Release
    from assortment.domain.publish import publish, publish_lock_name
    from assortment.domain.tenancy import Principal

    settings = Settings()
    sessions = make_session_factory(make_engine(settings))
    try:
        store_id = None
        if not organization:
            with sessions() as session:
                store_id = uuid.UUID(store) if store else auth.default_store(session).id
        principal = Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")
        with Progress(
            TextColumn("publishing {task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=quiet,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            def work(session: Session) -> Release:
                return publish(session, principal, catalog_id, export_full_delta=full_delta, progress=progress)

            release = in_snapshot(sessions, publish_lock_name(catalog_id), work)
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    except ValueError as exc:
        raise _fail(f"--store must be a store id: {exc}") from exc
    summary = {
        "id": str(release.id),
        "catalog_id": catalog_id,
        "total_products": release.total_products,
        "total_nodes": release.total_nodes,
        "published_at": release.published_at.isoformat() if release.published_at else None,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        err.print(f"published release {release.id}: {release.total_products} products, {release.total_nodes} nodes")


@catalogs_app.command("changes")
def catalogs_changes(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id")],
    release: Annotated[str, typer.Option("--release", help="Release id, or latest")] = "latest",
    since: Annotated[
        str | None,
        typer.Option("--since", help="Release id, or latest (default: the release that was latest at its publish)"),
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help="Store id (default: the default store)")] = None,
    organization: Annotated[bool, typer.Option("--organization", help="An organization catalog")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """What changed between two releases of a catalog: the list GET /pcm/catalogs/{id}/releases/{rid}/changes
    answers, whole. A table (change, entity type, entity id, fields) or, with --json, {"data", "meta"}."""
    from assortment.domain.release_changes import ChangesService, change_document
    from assortment.domain.tenancy import Principal

    engine = make_engine(Settings())
    try:
        with make_session_factory(engine)() as session:
            store_id = None if organization else (uuid.UUID(store) if store else auth.default_store(session).id)
            principal = Principal(key_id=uuid.UUID(int=0), store_id=store_id, grant="client_credentials")
            service = ChangesService(session, principal)
            changes = service.compare(catalog_id, release, since, None)
            fields: dict[str, list[str]] = {}
            for start in range(0, len(changes.items), 500):
                fields.update(service.fields(changes, changes.items[start : start + 500]))
    except DomainError as exc:
        raise _fail(str(exc.detail)) from exc
    except ValueError as exc:
        raise _fail(f"--store must be a store id: {exc}") from exc
    finally:
        engine.dispose()
    counts = changes.counts
    since_id = str(changes.base.id) if changes.base is not None else None
    if as_json:
        meta = {
            "counts": counts,
            "results": {"total": len(changes.items)},
            "release": str(changes.ref.release.id),
            "since": since_id,
        }
        typer.echo(json.dumps({"data": [change_document(c, fields[c.key]) for c in changes.items], "meta": meta}))
        return
    for change in changes.items:
        typer.echo(f"{change.change}\t{change.entity_type}\t{change.entity_id}\t{','.join(fields[change.key])}")
    err.print(
        f"{counts['created']} created, {counts['updated']} updated, {counts['deleted']} deleted: release "
        f"{changes.ref.release.id} since {since_id or 'nothing (every entity is new)'}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("check")
def check(as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False) -> None:
    """Read the whole database and report every broken invariant: exit 0 when clean, 1 when anything is
    found, 2 when the database could not be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from assortment.domain.integrity import check_database, report_document

    engine = make_engine(Settings())
    try:
        with make_session_factory(engine)() as session:
            if engine.dialect.name == "postgresql":  # one snapshot of the whole database
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            problems = check_database(session)
    except SQLAlchemyError as exc:
        err.print(f"[red]error:[/red] could not read the database: {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(report_document(problems)))
    else:
        for problem in problems:
            typer.echo(f"{problem.check}\t{problem.entity_type}\t{problem.entity_id}\t{problem.detail}")
        err.print(f"{len(problems)} problems found" if problems else "ok: no problems found", highlight=False)
    if problems:
        raise typer.Exit(code=1)


@app.command("worker")
def worker() -> None:
    """Deliver webhooks only (SPEC §11.3): any number may run beside the servers; stop with Ctrl-C or SIGTERM."""
    import signal

    from assortment.domain.webhooks import DeliveryLoop

    settings = Settings()
    engine = make_engine(settings)
    loop = DeliveryLoop(settings, make_session_factory(engine))
    signal.signal(signal.SIGTERM, lambda *_: loop.stopping.set())
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API (an embedded SQLite database is migrated on start)."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from assortment.db.migrate import upgrade

    settings = Settings()
    if settings.is_sqlite:
        upgrade(settings)
    _print_first_steps(settings, host, port)
    # Metrics of every worker process are summed at /metrics: each process writes its figures into a
    # folder of this run (prometheus-client's multiprocess mode reads the variable when first imported,
    # so it is set before the app is).
    own_folder = None
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:  # the operator's folder: empty it of an earlier run's files, which would be summed in
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    else:
        _remove_stale_metric_folders()
        folder = own_folder = tempfile.mkdtemp(prefix=f"{METRICS_FOLDER_PREFIX}{os.getpid()}-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    from assortment.observability import logging_config

    try:
        uvicorn.run(
            "assortment.app:factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=logging_config(settings.log_format, settings.log_level),
            log_level=settings.log_level,
            access_log=False,
        )
    finally:
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)


METRICS_FOLDER_PREFIX = "assortment-metrics-"


def _remove_stale_metric_folders() -> None:
    """The metric folders of earlier `serve` runs whose process is gone (a server stopped by a signal
    exits without running its clean-up)."""
    import os
    import shutil
    import tempfile

    root = tempfile.gettempdir()
    for name in os.listdir(root):
        if not name.startswith(METRICS_FOLDER_PREFIX):
            continue
        pid_text = name[len(METRICS_FOLDER_PREFIX) :].split("-", 1)[0]
        if not pid_text.isascii() or not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except PermissionError:
            continue  # another user's live process


def _print_first_steps(settings: Settings, host: str, port: int) -> None:
    from assortment.db.models import User

    try:
        sessions = make_session_factory(make_engine(settings))
        with sessions() as session:
            keys = session.scalar(select(func.count()).select_from(ApiKey)) or 0
            people = session.scalar(select(func.count()).select_from(User)) or 0
    except Exception:  # a database that is not migrated yet: the server will say more
        return
    base = f"http://{host}:{port}"
    if not people:
        err.print(
            "\n[bold]No workbench users yet.[/bold] In another terminal:\n"
            "  .venv/bin/assortment users create --email you@example.com --role admin\n"
            f"then sign in at {base}/admin\n",
            highlight=False,
            soft_wrap=True,
        )
    if keys:
        return
    err.print(
        "\n[bold]No API keys yet.[/bold] In another terminal:\n"
        "  .venv/bin/assortment keys create --name dev --json\n"
        "then get a token and make a first call:\n"
        f"  curl -s {base}/oauth/access_token -d grant_type=client_credentials "
        "-d client_id=CLIENT_ID -d client_secret=CLIENT_SECRET\n"
        f"  curl -s {base}/pcm/products -H 'Authorization: Bearer ACCESS_TOKEN'\n"
        f"API docs: {base}/docs\n",
        highlight=False,
        soft_wrap=True,
    )


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per refused setting, named as it is set (its value is not repeated: it may be a secret)."""
    lines = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"ASSORTMENT_{name}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for line in settings_problems(exc):
            err.print(f"[red]error:[/red] invalid setting {line}", highlight=False, soft_wrap=True)
        sys.exit(2)
