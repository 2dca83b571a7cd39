"""``fidela serve`` and ``fidela worker``: the long-running processes."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Annotated

import typer
import uvicorn

from fidela.api.app import create_app
from fidela.cli import context, processes
from fidela.cli.output import JsonOption, console, emit
from fidela.platform.heap import settle_after_startup
from fidela.platform.settings import Settings
from fidela.worker.registry import build_registry
from fidela.worker.runner import Worker, start_in_thread


def _worker() -> Worker:
    settings = context.settings()
    return Worker(
        database=context.database(),
        registry=build_registry(settings),
        batch_size=settings.worker_batch_size,
        lease=timedelta(seconds=settings.worker_lease_seconds),
    )


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (FIDELA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (FIDELA_PORT).")] = None,
    with_worker: Annotated[
        bool | None,
        typer.Option(
            "--with-worker/--no-worker",
            help="Run the job runner in this process. Default: on for SQLite (one process "
            "deployment), off for PostgreSQL (run `fidela worker` processes).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (PostgreSQL only: each process is one core "
            "at most, Python's lock being per process).",
        ),
    ] = 1,
) -> None:
    """Serve the API (OpenAPI at /openapi.json, docs at /docs)."""
    settings = context.settings()
    context.setup_logging()
    database = context.database()
    run_worker = with_worker if with_worker is not None else database.dialect == "sqlite"
    if workers > 1:
        _serve_processes(settings, host, port, workers, run_worker, database.dialect)
        return
    stop: threading.Event | None = None
    if run_worker:
        _, stop = start_in_thread(_worker(), settings.worker_poll_seconds)
    app = create_app(settings, database)
    settle_after_startup(settings.settle_heap)
    try:
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,  # our structlog configuration handles uvicorn's loggers
            access_log=False,
        )
    finally:
        if stop is not None:
            stop.set()


def _serve_processes(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int,
    run_worker: bool,
    dialect: str,
) -> None:
    if dialect == "sqlite":
        raise typer.BadParameter(
            "SQLite takes one writer at a time: serve it with one process", param_hint="--workers"
        )
    if run_worker:
        raise typer.BadParameter(
            "run the job runner as its own `fidela worker` process when serving with several "
            "processes",
            param_hint="--with-worker",
        )
    # Each process listens on a socket of its own and builds its app from the environment
    # (see fidela.cli.processes: why not uvicorn's supervisor).
    address = (host or settings.host, port or settings.port)
    try:
        reserved = processes.reserve(*address)
    except OSError as error:
        raise typer.BadParameter(
            f"cannot listen on {address[0]}:{address[1]}: {error}", param_hint="--port"
        ) from error
    stopping: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _: stopping.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        code = processes.supervise(
            processes.serve_one,
            (*address, processes.shared_counts(workers)),
            workers,
            lambda: bool(stopping),
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        reserved.close()
    if code:
        raise typer.Exit(code)


def worker(
    once: Annotated[bool, typer.Option(help="Process everything due, then exit.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the job runner: drains the outbox and runs periodic jobs until SIGTERM/SIGINT."""
    settings = context.settings()
    context.setup_logging("console" if once else None)
    runner = _worker()
    settle_after_startup(settings.settle_heap)
    if once:
        stats = runner.run_until_idle()
        emit(
            stats.__dict__,
            as_json,
            lambda: console.print(
                f"claimed {stats.claimed}, done {stats.done}, retried {stats.retried}, "
                f"dead {stats.dead}"
            ),
        )
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner.run_forever(stop, settings.worker_poll_seconds)
