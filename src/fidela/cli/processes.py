"""Several server processes on one port, each listening on a socket of its own.

uvicorn's supervisor binds one socket and hands it to every worker. The workers then share
one queue of incoming connections, and the process that wakes first takes every connection
pending (libuv accepts until none is left). A client that keeps a few keep-alive connections
(a shop's HTTP pool, the benchmark's eight) often had all of them served by one process while
the other stayed idle: in the benchmark the machine was then 45-49 % busy instead of 86-87 %
(docs/benchmarks.md, session 10).

With ``SO_REUSEPORT`` each process listens on a socket of its own, and the kernel spreads new
connections over them by a hash of each connection's addresses, as nginx's ``reuseport`` does.
A hash spreads many connections evenly but a few by chance: the batch endpoint corrects that
with an array of counts shared by the processes, one slot each (``fidela.api.balance``).

The supervisor:

- keeps the port reserved with a socket bound the same way but never listening, which the
  kernel gives no connections to (``reserve``: a port something listens on already is
  refused, as before);
- starts the processes and starts again one that dies;
- stops everything when one dies within ``early_exit`` seconds of starting (it could not
  start: a second try would fail the same way);
- when asked to stop, sends each process SIGTERM, on which uvicorn finishes the requests in
  flight, and kills those still running after ``grace`` seconds.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import time
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from fidela.api import balance

BACKLOG = 2048
EARLY_EXIT_SECONDS = 10.0
GRACE_SECONDS = 30.0
POLL_SECONDS = 0.5

logger = logging.getLogger("fidela.serve")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reuseport_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (listening if asked)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def reserve(host: str, port: int) -> socket.socket:
    """The supervisor's hold on the port: refused (``OSError``) if anything listens there
    already. A socket with ``SO_REUSEPORT`` alone would join another server started the same
    way by the same user, where uvicorn's supervisor failed with "address in use"; a plain
    bind is tried first to keep that answer."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    return reuseport_socket(host, port, listen=False)


def shared_counts(count: int) -> MutableSequence[int]:
    """One integer per process, shared by all of them (``fidela.api.balance``)."""
    counts: MutableSequence[int] = multiprocessing.get_context("spawn").RawArray("i", count)
    return counts


def serve_one(host: str, port: int, counts: MutableSequence[int], slot: int) -> None:
    """One server process: its own listening socket, the app built from the environment,
    its batch senders counted in ``counts[slot]``."""
    balance.install(counts, slot)
    sock = reuseport_socket(host, port, listen=True)
    config = uvicorn.Config(
        "fidela.api.served:served_app",
        factory=True,
        log_config=None,  # our structlog configuration handles uvicorn's loggers
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class _Running:
    process: BaseProcess
    started: float


def supervise(
    target: Callable[..., None],
    args: tuple[Any, ...],
    count: int,
    should_stop: Callable[[], bool],
    *,
    early_exit: float = EARLY_EXIT_SECONDS,
    grace: float = GRACE_SECONDS,
) -> int:
    """Run ``count`` processes of ``target(*args, slot)`` until ``should_stop()`` (0) or one
    of them could not start (1). ``slot`` numbers the processes from 0; a process started
    again in place of one that died gets its slot.

    ``should_stop`` is polled rather than waited on: a signal handler can set a flag at any
    moment, but setting a ``threading.Event`` from one may deadlock on the lock the
    interrupted thread holds."""
    context = multiprocessing.get_context("spawn")

    def start(slot: int) -> _Running:
        process = context.Process(target=target, args=(*args, slot), daemon=False)
        process.start()
        return _Running(process, time.monotonic())

    running = [start(slot) for slot in range(count)]
    failed = False
    try:
        while not failed:
            time.sleep(POLL_SECONDS)
            # Asked after the pause: a signal to the whole process group (Ctrl-C, a service
            # manager) reaches the processes too, and the exits it causes are no failures.
            if should_stop():
                break
            for index, entry in enumerate(running):
                if entry.process.is_alive():
                    continue
                pid, code = entry.process.pid, entry.process.exitcode
                if time.monotonic() - entry.started < early_exit:
                    logger.error("server process %s exited at start-up (%s)", pid, code)
                    failed = True
                    break
                logger.warning("server process %s exited (%s): starting another", pid, code)
                running[index] = start(index)
    finally:
        _stop([entry.process for entry in running], grace)
    return 1 if failed else 0


def _stop(processes: list[BaseProcess], grace: float) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
