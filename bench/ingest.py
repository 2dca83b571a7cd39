"""Benchmark of event ingestion on PostgreSQL, next to pgbench TPC-B in the same run.

Measures, against a fresh database and a real `fidela serve --workers N`:

1. pgbench TPC-B (scale 10, -M prepared) with C clients: the peer, in transactions/s;
2. single-event ``POST /v1/events`` (``order.completed``), closed loop with the same C
   clients: tps, p50, p99, and the ratio to pgbench (goal: at least 0.50x);
3. the same endpoint in open loop at a fixed offered rate of 50 % of pgbench's tps: the p99
   latency at that rate, counted from each request's scheduled send time (goal: under 50 ms);

   steps 1 to 3 run once per client count (``--clients 8,32``, the default): the issue asks
   for the same client count on both sides, not for one count, and the two sides scale
   differently (pgbench's ten branch rows serialise its transactions, while the server's
   group commit gathers more events per transaction as more clients send);
4. ``POST /v1/events/batch`` (1,000 events a batch): accepted events/s against 10,000/s,
   for customers of the pool, then for new customers (each batch creates 1,000 profiles);
5. ``fidela import orders`` from CSV (the same orders): events/s against 10,000/s, with the
   command's fixed start-up measured on an empty file and taken out.

Before the measured phases every customer of the pool is created once through the batch
endpoint (that rate is reported too, as "seeding, new customers, cold server": it is each
server process's first batches, on empty tables), so the measured requests hit existing
profiles; the warm rate for new customers is phase 4's second half. Nothing is asserted:
the report gives ratios against pgbench and the goals, plus where the CPU went (server,
PostgreSQL, this load generator, anything else).

    .venv/bin/python bench/ingest.py --seconds 15
    .venv/bin/python bench/ingest.py --seconds 15 --clients 8 --earning
    .venv/bin/python bench/ingest.py --seconds 15 --server-workers 1,2 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import numpy as np
import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from bench import rawhttp
else:
    # Run as a script, bench/ itself is on sys.path (mypy sees bench/ as a package).
    import rawhttp

SINGLE_GOAL_RATIO = 0.50  # of pgbench's tps
P99_GOAL_MS = 50.0  # at 50 % of pgbench's tps
OPEN_LOOP_SHARE = 0.50
BATCH_GOAL_EVENTS_PER_S = 10_000.0
ERROR_LIMIT = 0.01  # above this share of failed requests the run fails loudly
OTHER_LOAD_WARNING = 0.10  # share of the cores used by others that makes a phase suspect
PGBENCH_SCALE = 10

EVENT_TEMPLATE: dict[str, Any] = {
    "type": "order.completed",
    "source": "bench",
    "external_id": "@EXT@",
    "occurred_at": "2026-11-02T10:31:00+01:00",
    "customer": {"email": "c@K@@example.com"},
    "data": {
        "currency": "EUR",
        "channel": "store",
        "store_id": "S01",
        "lines": [
            {"product_id": "P1", "category": "shoes", "quantity": 1, "unit_price_minor": 8990},
            {"product_id": "P2", "category": "socks", "quantity": 2, "unit_price_minor": 990},
        ],
        "payments": [{"method": "card", "amount_minor": 10970}],
    },
}


def _template_parts() -> tuple[bytes, bytes, bytes]:
    # The body is serialised once and cut around the two variable fields, so that building
    # a request costs a bytes join, not a json.dumps: the load generator shares the 2 cores
    # with the server and PostgreSQL.
    text = json.dumps(EVENT_TEMPLATE, separators=(",", ":"))
    head, rest = text.split("@EXT@")
    middle, tail = rest.split("@K@")
    return head.encode(), middle.encode(), tail.encode()


_HEAD, _MIDDLE, _TAIL = _template_parts()


def event_body(external_id: str, customer: int) -> bytes:
    return b"".join((_HEAD, external_id.encode(), _MIDDLE, str(customer).encode(), _TAIL))


def batch_body(events: list[bytes]) -> bytes:
    return b'{"events":[' + b",".join(events) + b"]}"


# --- PostgreSQL: scratch databases and pgbench -------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    # FORCE: a server killed mid-request may leave its connections behind for a moment.
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def postgres_settings(admin_url: str) -> dict[str, str]:
    """The settings that decide what a commit costs, so readers can compare runs."""
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return {
            name: str(row[0])
            for name in names
            if (row := conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone())
        }


def _pg_cli_args(admin_url: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(admin_url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", parts.username or "postgres"]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return args, env


@dataclass
class PgbenchResult:
    tps: float
    latency_avg_ms: float | None
    transactions: int | None


def run_pgbench(
    admin_url: str, name: str, *, clients: int, seconds: float, binary: str
) -> PgbenchResult:
    conn_args, env = _pg_cli_args(admin_url)
    subprocess.run(
        [binary, "-i", "-q", "-s", str(PGBENCH_SCALE), *conn_args, name],
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [
            binary,
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(round(seconds)),
            *conn_args,
            name,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if tps is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{done.stdout}\n{done.stderr}")
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_avg_ms=float(latency.group(1)) if latency else None,
        transactions=int(processed.group(1)) if processed else None,
    )


# --- CPU accounting from /proc --------------------------------------------------------------

_TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds consumed so far by the machine and by each party of the benchmark.

    Read from /proc so the report can say where the time goes; on a system without /proc
    every figure is 0 and the CPU lines are left out."""

    machine_busy: float
    steal: float
    server: float
    postgres: float
    loadgen: float
    # Per server process: with several, how evenly the load spread (the clients' keep-alive
    # connections are accepted by whichever process wakes first).
    server_processes: dict[int, float] = field(default_factory=dict)

    @classmethod
    def take(cls, server_pgid: int | None) -> CpuSnapshot:
        server, postgres, processes = _process_cpu(server_pgid)
        return cls(*_machine_cpu(), server, postgres, time.process_time(), processes)


def _machine_cpu() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(value) for value in fields] + [0] * 8
    # user nice system idle iowait irq softirq steal: idle and iowait are not busy, and steal
    # (the hypervisor running someone else) is time this machine did not get at all.
    return (sum(ticks[:7]) - ticks[3] - ticks[4]) / _TICK, ticks[7] / _TICK


def machine_load(seconds: float = 2.0) -> float:
    """Share of all cores busy over a short sample: a benchmark on a busy machine measures
    the other work too, so the report says how busy it was before starting."""
    before, _ = _machine_cpu()
    time.sleep(seconds)
    after, _ = _machine_cpu()
    return (after - before) / (seconds * (os.cpu_count() or 1))


def _processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, command name, process group, CPU ticks) of every process /proc shows."""
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        close = raw.rfind(")")
        rest = raw[close + 2 :].split()
        # After "pid (comm)": state ppid pgrp ...; utime and stime are fields 14 and 15.
        yield (
            int(entry.name),
            raw[raw.find("(") + 1 : close],
            int(rest[2]),
            int(rest[11]) + int(rest[12]),
        )


def _process_cpu(server_pgid: int | None) -> tuple[float, float, dict[int, float]]:
    """(server's process group, every `postgres` process, each process of the server's
    group) in CPU seconds. Backends that exit during a phase take their ticks with them, so
    the PostgreSQL figure is a lower bound; the server's pool keeps its connections, which
    makes that loss small."""
    server = postgres = 0
    processes: dict[int, float] = {}
    for pid, comm, group, ticks in _processes():
        if server_pgid is not None and group == server_pgid:
            server += ticks
            processes[pid] = ticks / _TICK
        elif comm == "postgres":
            postgres += ticks
    return server / _TICK, postgres / _TICK, processes


class PostgresSampler:
    """PostgreSQL's CPU seconds over a stretch in which backends come and go (each import
    opens its own): /proc is read every `interval` and each backend counts up to its last
    sighting, so only the final `interval` of a backend's life is lost."""

    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._initial = True

    def _sample(self) -> None:
        for pid, comm, _, ticks in _processes():
            if comm == "postgres":
                # A backend born after the start counts from zero.
                self._first.setdefault(pid, ticks if self._initial else 0)
                self._last[pid] = ticks
        self._initial = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PostgresSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last) / _TICK


@dataclass
class CpuUse:
    """CPU milliseconds per request (or per event) of each party, and the machine's load."""

    server_ms: float
    postgres_ms: float
    loadgen_ms: float
    other_ms: float
    machine_busy_share: float  # of all cores
    steal_share: float  # of all cores: time the hypervisor gave to other guests
    other_share: float  # of all cores: processes outside the benchmark
    # Each server process's busy share of one core, busiest first (the supervisor included,
    # mostly idle).
    process_shares: list[float] = field(default_factory=list)

    @classmethod
    def between(
        cls, before: CpuSnapshot, after: CpuSnapshot, *, units: int, wall: float
    ) -> CpuUse | None:
        if units <= 0 or wall <= 0 or after.machine_busy == 0:
            return None
        server = max(0.0, after.server - before.server)
        postgres = max(0.0, after.postgres - before.postgres)
        loadgen = max(0.0, after.loadgen - before.loadgen)
        busy = max(0.0, after.machine_busy - before.machine_busy)
        per = 1000.0 / units
        return cls(
            server_ms=server * per,
            postgres_ms=postgres * per,
            loadgen_ms=loadgen * per,
            other_ms=max(0.0, busy - server - postgres - loadgen) * per,
            machine_busy_share=busy / (wall * (os.cpu_count() or 1)),
            steal_share=max(0.0, after.steal - before.steal) / (wall * (os.cpu_count() or 1)),
            other_share=max(0.0, busy - server - postgres - loadgen)
            / (wall * (os.cpu_count() or 1)),
            process_shares=sorted(
                (
                    (seconds - before.server_processes.get(pid, 0.0)) / wall
                    for pid, seconds in after.server_processes.items()
                ),
                reverse=True,
            ),
        )

    def describe(self, unit: str) -> str:
        return (
            f"CPU per {unit}: server {self.server_ms:.2f} ms, PostgreSQL {self.postgres_ms:.2f} "
            f"ms, load generator {self.loadgen_ms:.2f} ms, other {self.other_ms:.2f} ms; "
            f"machine {self.machine_busy_share:.0%} busy"
            + (f", {self.steal_share:.0%} stolen" if self.steal_share >= 0.01 else "")
            + (
                "; server processes "
                + ", ".join(f"{share:.0%}" for share in self.process_shares if share >= 0.01)
                + " busy"
                if sum(share >= 0.01 for share in self.process_shares) > 1
                else ""
            )
            + (
                f"\n    WARNING: {self.other_share:.0%} of the machine went to processes outside "
                "the benchmark during this phase: its figures are low"
                if self.other_share >= OTHER_LOAD_WARNING
                else ""
            )
        )


# --- The server under test ---------------------------------------------------------------


def prepare_database(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> None:
    """Migrate; with ``--earning``, create the demo loyalty programme (earning rules, basket
    bonus, multiplier, tier ladder, expiry) so every order runs the loyalty engine too."""
    run_fidela(["db", "upgrade"], env, workdir)
    if args.earning:
        from fidela.demo.programme import DEMO_PROGRAMME

        programme = workdir / "programme.json"
        programme.write_text(json.dumps(DEMO_PROGRAMME))
        run_fidela(["loyalty", "create", str(programme)], env, workdir)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_fidela(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fidela", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fidela {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int, workdir: Path) -> Iterator[Server]:
    port = free_port()
    # `fidela serve --workers N`: uvicorn's supervisor forks N processes, each building the
    # app from the environment and settling its start-up heap, as in production.
    command = [
        sys.executable,
        "-m",
        "fidela",
        "serve",
        "--port",
        str(port),
        "--no-worker",
        "--workers",
        str(workers),
    ]
    log_path = workdir / f"server-{workers}w.log"
    with log_path.open("wb") as log:
        # A session of its own: Ctrl-C in the terminal reaches only this script, whose
        # `finally` then stops the whole process group (uvicorn's workers included).
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(server, workers)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: Server, workers: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    healthy = 0
    with httpx2.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{server.log_tail()}")
            try:
                healthy = healthy + 1 if client.get("/health").status_code == 200 else 0
            except httpx2.HTTPError:
                healthy = 0
            # With several workers the first answer may come from the only one up yet.
            if healthy >= 3 * workers:
                time.sleep(1.0 if workers > 1 else 0.0)
                return
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /health in {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# --- Load generation ------------------------------------------------------------------------


class Requests:
    """Unique external ids and random customers of the pool, shared by the client threads
    (itertools.count and random under the GIL need no lock)."""

    def __init__(self, run_id: str, customers: int, seed: int) -> None:
        self.run_id = run_id
        self.customers = customers
        self._counter = itertools.count()
        self._random = random.Random(seed)

    def single(self, phase: str) -> bytes:
        n = next(self._counter)
        return event_body(f"{self.run_id}-{phase}-{n}", self._random.randrange(self.customers))

    def batch(self, phase: str, size: int, customers: range | None = None) -> bytes:
        if customers is None:
            return batch_body([self.single(phase) for _ in range(size)])
        events = [event_body(f"{self.run_id}-{phase}-{k}", k) for k in customers]
        return batch_body(events)


@dataclass
class Tally:
    """What one client thread saw; merged after the phase."""

    latencies: list[float] = field(default_factory=list)
    service_times: list[float] = field(default_factory=list)
    completed_in_window: int = 0
    attempts: int = 0
    errors: int = 0
    error_samples: Counter[str] = field(default_factory=Counter)
    new_customers: int = 0

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.service_times += other.service_times
        self.completed_in_window += other.completed_in_window
        self.attempts += other.attempts
        self.errors += other.errors
        self.error_samples.update(other.error_samples)
        self.new_customers += other.new_customers


NEW_CUSTOMER = b'"customer_created":true'


async def _post_event(connection: rawhttp.Connection, request: bytes, tally: Tally) -> bool:
    """Send one event (a whole pre-built request); True when it was accepted as new (201)."""
    tally.attempts += 1
    try:
        response = await connection.request(request)
    except rawhttp.HttpError as error:
        tally.errors += 1
        tally.error_samples[f"{type(error).__name__}: {error}"[:300]] += 1
        return False
    if response.status != 201:
        tally.errors += 1
        text = response.body.decode("utf-8", errors="replace")
        tally.error_samples[f"HTTP {response.status}: {text[:300]}"] += 1
        return False
    if NEW_CUSTOMER in response.body:
        tally.new_customers += 1
    return True


def _single_clients(
    server: Server, token: str, count: int, timeout: float
) -> tuple[list[rawhttp.Connection], bytes]:
    """`count` raw keep-alive connections (opened on first use) and the head of a
    ``POST /v1/events`` up to its Content-Length, for `rawhttp.post`."""
    parts = urlsplit(server.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    connections = [rawhttp.Connection(host, port, timeout=timeout) for _ in range(count)]
    return connections, rawhttp.request_prefix(parts.netloc, "/v1/events", token)


def _sample_cpu_at(
    moments: tuple[float, float], server_pgid: int, snapshots: list[CpuSnapshot]
) -> threading.Thread:
    """A thread taking the CPU snapshots at the window's edges: reading /proc takes
    milliseconds, which would stall every request in flight if the event loop did it."""

    def sample() -> None:
        for moment in moments:
            time.sleep(max(0.0, moment - time.perf_counter()))
            snapshots.append(CpuSnapshot.take(server_pgid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    return thread


def _client(server: Server, token: str, timeout: float) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx2.Client(base_url=server.base_url, headers=headers, timeout=timeout)


def _run_threads(count: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class LatencyPhase:
    name: str
    clients: int
    seconds: float
    rate: float  # completed requests/s in the window
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    error_rate: float
    error_samples: list[str]
    new_customer_share: float
    offered_rate: float | None = None
    service_p99_ms: float | None = None
    not_sent: int = 0  # open loop: requests due in the window that never left
    cpu: CpuUse | None = None


def _summarise(
    name: str, tally: Tally, clients: int, seconds: float, cpu: CpuUse | None
) -> LatencyPhase:
    latencies = np.array(tally.latencies) * 1000.0
    return LatencyPhase(
        name=name,
        clients=clients,
        seconds=seconds,
        rate=tally.completed_in_window / seconds,
        p50_ms=float(np.percentile(latencies, 50)) if latencies.size else float("nan"),
        p99_ms=float(np.percentile(latencies, 99)) if latencies.size else float("nan"),
        requests=len(tally.latencies),
        errors=tally.errors,
        error_rate=tally.errors / tally.attempts if tally.attempts else 0.0,
        error_samples=[f"{n} x {text}" for text, n in tally.error_samples.most_common(3)],
        new_customer_share=(
            tally.new_customers / (tally.attempts - tally.errors)
            if tally.attempts > tally.errors
            else 0.0
        ),
        cpu=cpu,
    )


def closed_loop(
    server: Server,
    token: str,
    requests: Requests,
    *,
    clients: int,
    seconds: float,
    warmup: float,
) -> LatencyPhase:
    """C clients, each sending its next request as soon as the previous one answered.
    Only requests completing inside the window after the warm-up count.

    The clients are tasks of one asyncio loop in this thread, each with its own keep-alive
    connection (bench/rawhttp.py: far less CPU per request than a client per thread)."""
    tallies = [Tally() for _ in range(clients)]
    connections, prefix = _single_clients(server, token, clients, 60.0)
    start = time.perf_counter() + 0.1
    window_start, window_end = start + warmup, start + warmup + seconds
    snapshots: list[CpuSnapshot] = []

    async def client_loop(i: int) -> None:
        connection, tally = connections[i], tallies[i]
        while (sent := time.perf_counter()) < window_end:
            request = rawhttp.post(prefix, requests.single("single"))
            ok = await _post_event(connection, request, tally)
            done = time.perf_counter()
            if window_start <= done < window_end and ok:
                tally.completed_in_window += 1
                tally.latencies.append(done - sent)

    total = _drive(
        connections,
        [client_loop(i) for i in range(clients)],
        tallies,
        _sample_cpu_at((window_start, window_end), server.process.pid, snapshots),
    )
    cpu = CpuUse.between(*snapshots, units=total.completed_in_window, wall=seconds)
    return _summarise("single, closed loop", total, clients, seconds, cpu)


def _drive(
    connections: list[rawhttp.Connection],
    loops: list[Coroutine[Any, Any, None]],
    tallies: list[Tally],
    sampler: threading.Thread,
) -> Tally:
    """Run the request loops on one event loop, close the connections, wait for the CPU
    sampler's window-end snapshot; the merged tally."""

    async def run() -> None:
        try:
            await asyncio.gather(*loops)
        finally:
            for connection in connections:
                connection.close()

    rawhttp.run(run())
    sampler.join()
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def open_loop(
    server: Server,
    token: str,
    requests: Requests,
    *,
    rate: float,
    workers: int,
    seconds: float,
    warmup: float,
) -> LatencyPhase:
    """A fixed offered rate: request i is due at start + i / rate whatever the server does,
    and its latency counts from that due time (no coordinated omission: when the server
    falls behind, the wait shows in the latency). A pool of workers claims the slots in
    order. Requests completing inside the window count; those due before the window's end
    but never sent are reported as not sent (then the p99 is a lower bound).

    The workers are tasks of one asyncio loop in this thread, each with its own keep-alive
    connection (bench/rawhttp.py); a worker sleeps until its slot is due, so a due slot
    waits for a free worker and that wait counts in its latency, as does the event loop's
    timer lag (~0.65 ms median: `rawhttp.sleep_until` never sends before the due time)."""
    tallies = [Tally() for _ in range(workers)]
    connections, prefix = _single_clients(server, token, workers, 60.0)
    slots = itertools.count()
    interval = 1.0 / rate
    start = time.perf_counter() + 0.1
    window_start, window_end = start + warmup, start + warmup + seconds
    snapshots: list[CpuSnapshot] = []

    async def worker(i: int) -> None:
        connection, tally = connections[i], tallies[i]
        while True:
            due = start + next(slots) * interval
            if due >= window_end or time.perf_counter() >= window_end:
                return
            await rawhttp.sleep_until(due)
            sent = time.perf_counter()
            request = rawhttp.post(prefix, requests.single("open"))
            ok = await _post_event(connection, request, tally)
            done = time.perf_counter()
            if window_start <= done < window_end and ok:
                tally.completed_in_window += 1
                tally.latencies.append(done - due)
                tally.service_times.append(done - sent)

    total = _drive(
        connections,
        [worker(i) for i in range(workers)],
        tallies,
        _sample_cpu_at((window_start, window_end), server.process.pid, snapshots),
    )
    cpu = CpuUse.between(*snapshots, units=total.completed_in_window, wall=seconds)
    phase = _summarise("single, open loop", total, workers, seconds, cpu)
    phase.offered_rate = rate
    due = int(np.ceil((window_end - start) * rate))
    phase.not_sent = max(0, due - total.attempts)
    if total.service_times:
        phase.service_p99_ms = float(np.percentile(np.array(total.service_times) * 1000.0, 99))
    return phase


@dataclass
class BatchPhase:
    name: str
    clients: int
    batch_size: int
    batches: int
    events_per_s: float
    accepted: int
    duplicates: int
    rejected: int
    failed_batches: int
    error_rate: float
    error_samples: list[str]
    wall_s: float
    batch_p50_s: float
    batch_max_s: float
    cpu: CpuUse | None = None


def batch_load(
    server: Server,
    token: str,
    bodies: Callable[[], bytes | None],
    *,
    name: str,
    clients: int,
    batch_size: int,
    seconds: float | None,
) -> BatchPhase:
    """C clients each send batches back to back, until `bodies` runs out or, if `seconds`
    is set, until that time has passed (a batch under way then is waited for and counted:
    the rate is accepted events over the wall time until the last answer)."""
    http = [_client(server, token, 600.0) for _ in range(clients)]
    lock = threading.Lock()
    durations: list[float] = []
    totals: Counter[str] = Counter()
    samples: Counter[str] = Counter()
    last_done = [0.0]
    start = time.perf_counter()
    deadline = start + seconds if seconds is not None else float("inf")
    before = CpuSnapshot.take(server.process.pid)

    def client_loop(i: int) -> None:
        while time.perf_counter() < deadline:
            with lock:
                body = bodies()
            if body is None:
                return
            sent = time.perf_counter()
            outcome: Counter[str] = Counter()
            try:
                response = http[i].post("/v1/events/batch", content=body)
                if response.status_code == 200:
                    result = response.json()
                    for key in ("accepted", "duplicates", "rejected"):
                        outcome[key] = int(result[key])
                    for item in result["items"]:
                        if item["status"] == "rejected":
                            problem = json.dumps(item.get("problem"))[:300]
                            outcome["sample:" + problem] += 1
                else:
                    outcome["failed"] = 1
                    outcome[f"sample:HTTP {response.status_code}: {response.text[:300]}"] = 1
            except httpx2.HTTPError as error:
                outcome["failed"] = 1
                outcome[f"sample:{type(error).__name__}: {error}"[:300]] = 1
            done = time.perf_counter()
            with lock:
                durations.append(done - sent)
                last_done[0] = max(last_done[0], done)
                for key, value in outcome.items():
                    if key.startswith("sample:"):
                        samples[key.removeprefix("sample:")] += value
                    else:
                        totals[key] += value

    try:
        _run_threads(clients, client_loop)
    finally:
        for client in http:
            client.close()
    after = CpuSnapshot.take(server.process.pid)
    wall = max(last_done[0] - start, 1e-9)
    sent_events = len(durations) * batch_size
    bad = totals["rejected"] + totals["failed"] * batch_size
    return BatchPhase(
        name=name,
        clients=clients,
        batch_size=batch_size,
        batches=len(durations),
        events_per_s=totals["accepted"] / wall,
        accepted=totals["accepted"],
        duplicates=totals["duplicates"],
        rejected=totals["rejected"],
        failed_batches=totals["failed"],
        error_rate=bad / sent_events if sent_events else 0.0,
        error_samples=[f"{n} x {text}" for text, n in samples.most_common(3)],
        wall_s=wall,
        batch_p50_s=float(np.percentile(durations, 50)) if durations else float("nan"),
        batch_max_s=max(durations, default=float("nan")),
        cpu=CpuUse.between(before, after, units=totals["accepted"], wall=wall),
    )


# --- One server configuration, end to end -------------------------------------------------


@dataclass
class SinglePhases:
    """The single-event phases at one client count, next to pgbench at that count."""

    clients: int
    pgbench: PgbenchResult | None
    closed: LatencyPhase
    open: LatencyPhase | None


@dataclass
class ConfigResult:
    server_workers: int
    seed: BatchPhase
    singles: list[SinglePhases]
    batch: BatchPhase
    fresh: BatchPhase
    server_log_problems: list[str]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_config(
    args: argparse.Namespace,
    workers: int,
    pgbenches: dict[int, PgbenchResult | None],
    workdir: Path,
) -> ConfigResult:
    name = f"fidela_bench_{secrets.token_hex(4)}"
    env = dict(os.environ)
    env["FIDELA_DATABASE_URL"] = database_url(args.database_url, name)
    env["FIDELA_LOG_LEVEL"] = "warning"
    _log(f"[{workers} server worker(s)] database {name}: migrating")
    create_database(args.database_url, name)
    try:
        prepare_database(args, env, workdir)
        created = run_fidela(
            ["apikey", "create", "--name", "bench", "--scope", "events:write", "--json"],
            env,
            workdir,
        )
        token = str(json.loads(created)["token"])
        with serving(env, workers, workdir) as server:
            result = _measure_server(
                args, server, token, workers, pgbenches, env["FIDELA_DATABASE_URL"]
            )
        result.server_log_problems = _log_problems(server.log_path)
        return result
    finally:
        drop_database(args.database_url, name)


def _measure_server(
    args: argparse.Namespace,
    server: Server,
    token: str,
    workers: int,
    pgbenches: dict[int, PgbenchResult | None],
    url: str,
) -> ConfigResult:
    requests = Requests(secrets.token_hex(4), args.customers, seed=42)
    size = args.batch_size
    chunks = iter(range(0, args.customers, size))

    def seed_bodies() -> bytes | None:
        first = next(chunks, None)
        if first is None:
            return None
        return requests.batch("seed", size, range(first, min(first + size, args.customers)))

    _log(f"  creating {args.customers:,} customers through the batch endpoint")
    seed = batch_load(
        server,
        token,
        seed_bodies,
        name="seeding, new customers, cold server",
        clients=args.batch_clients,
        batch_size=size,
        seconds=None,
    )
    _log(f"    {seed.events_per_s:,.0f} events/s")
    # As pgbench does after loading its tables (and autovacuum would, were it on): statistics
    # of the seeded tables, so the measured statements are not planned for empty ones.
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")
    singles = [
        _single_phases(args, server, token, requests, clients, pgbench)
        for clients, pgbench in pgbenches.items()
    ]
    _log(f"  batches of {size}, {args.batch_clients} clients, {args.seconds:g} s")
    batch = batch_load(
        server,
        token,
        lambda: requests.batch("batch", size),
        name="batch, existing customers",
        clients=args.batch_clients,
        batch_size=size,
        seconds=args.seconds,
    )
    _log(f"    {batch.events_per_s:,.0f} events/s")
    # New customers again, now on a warm server and analysed tables: the seeding above is
    # each process's first few batches (statements compiled, plans made for empty tables),
    # which says more about start-up than about what the endpoint sustains.
    fresh_chunks = itertools.count(args.customers, size)

    def fresh_bodies() -> bytes:
        first = next(fresh_chunks)
        return requests.batch("fresh", size, range(first, first + size))

    _log(f"  batches of {size} new customers, {args.batch_clients} clients, {args.seconds:g} s")
    fresh = batch_load(
        server,
        token,
        fresh_bodies,
        name="batch, new customers",
        clients=args.batch_clients,
        batch_size=size,
        seconds=args.seconds,
    )
    _log(f"    {fresh.events_per_s:,.0f} events/s")
    return ConfigResult(workers, seed, singles, batch, fresh, [])


def _single_phases(
    args: argparse.Namespace,
    server: Server,
    token: str,
    requests: Requests,
    clients: int,
    pgbench: PgbenchResult | None,
) -> SinglePhases:
    _log(f"  single events, closed loop, {clients} clients, {args.seconds:g} s")
    closed = closed_loop(
        server, token, requests, clients=clients, seconds=args.seconds, warmup=args.warmup
    )
    _log(f"    {closed.rate:,.0f} tps, p99 {closed.p99_ms:.1f} ms")
    open_rate = args.rate or (OPEN_LOOP_SHARE * pgbench.tps if pgbench else None)
    opened: LatencyPhase | None = None
    if open_rate is not None:
        _log(f"  single events, open loop at {open_rate:,.0f}/s, {args.seconds:g} s")
        opened = open_loop(
            server,
            token,
            requests,
            rate=open_rate,
            workers=args.open_loop_workers or clients,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        _log(f"    achieved {opened.rate:,.0f}/s, p99 {opened.p99_ms:.1f} ms")
    return SinglePhases(clients, pgbench, closed, opened)


def _log_problems(path: Path) -> list[str]:
    """Lines of the server's log that look like trouble (it logs at warning level)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line[:500] for line in lines if re.search(r"error|exception|traceback", line, re.I)][
        :10
    ]


# --- The import (`fidela import orders`) -----------------------------------------------------

ORDER_COLUMNS = (
    "order_id,customer_id,ordered_at,currency,channel,store_id,total_minor,payment_method"
)
LINE_COLUMNS = "order_id,line_no,product_id,category,quantity,unit_price_minor"


def write_orders(path: Path, order_ids: list[str], customers: list[int]) -> None:
    """An orders CSV and its order_lines CSV beside it: the same two-line order as the HTTP
    events, so both paths ingest the same thing."""
    with path.open("w", encoding="utf-8") as orders:
        orders.write(ORDER_COLUMNS + "\n")
        for order_id, k in zip(order_ids, customers, strict=True):
            orders.write(f"{order_id},C{k},2026-11-02T10:31:00+01:00,EUR,store,S01,10970,card\n")
    with path.with_name("order_lines" + path.suffix).open("w", encoding="utf-8") as lines:
        lines.write(LINE_COLUMNS + "\n")
        for order_id in order_ids:
            lines.write(f"{order_id},1,P1,shoes,1,8990\n{order_id},2,P2,socks,2,990\n")


@dataclass
class ImportPhase:
    name: str
    rows: int
    created: int
    rejected: int
    wall_s: float
    startup_s: float  # the same command on a file with no rows
    events_per_s: float  # rows / (wall - startup): the import itself
    end_to_end_per_s: float  # rows / wall: what an operator waits for
    import_cpu_ms: float  # CPU of the import process per row, start-up excluded
    postgres_cpu_ms: float
    error_rate: float
    error_samples: list[str]


def _timed_import(
    path: Path, env: dict[str, str], workdir: Path, jobs: int
) -> tuple[dict[str, Any], float, float, float]:
    """(the command's JSON report, wall seconds, its CPU seconds, PostgreSQL CPU seconds)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    lines = path.with_name("order_lines" + path.suffix)
    with PostgresSampler() as postgres:
        out = run_fidela(
            [
                "import",
                "orders",
                str(path),
                "--lines",
                str(lines),
                "--source",
                "bench",
                "--json",
                "--quiet",
                "--jobs",
                str(jobs),
            ],
            env,
            workdir,
        )
        wall = time.perf_counter() - started
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after_children.ru_utime - children.ru_utime) + (
        after_children.ru_stime - children.ru_stime
    )
    report: dict[str, Any] = json.loads(out)
    return report, wall, cpu, postgres.seconds


def measure_import(args: argparse.Namespace, workdir: Path) -> list[ImportPhase]:
    """`fidela import orders` from CSV into a fresh database: first one order per customer of
    the pool (every row creates its customer), then `--import-orders` orders of random
    customers of the pool (existing profiles). A run on an empty file gives the command's
    fixed start-up cost, which is reported and taken out of the import's rate."""
    name = f"fidela_bench_{secrets.token_hex(4)}"
    env = dict(os.environ)
    env["FIDELA_DATABASE_URL"] = database_url(args.database_url, name)
    env["FIDELA_LOG_LEVEL"] = "warning"
    pick = random.Random(7)
    folder = workdir / "import"
    for sub in ("empty", "new", "existing"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    write_orders(folder / "empty" / "orders.csv", [], [])
    pool = list(range(args.customers))
    write_orders(folder / "new" / "orders.csv", [f"N{k}" for k in pool], pool)
    existing = [pick.randrange(args.customers) for _ in range(args.import_orders)]
    write_orders(
        folder / "existing" / "orders.csv", [f"E{i}" for i in range(len(existing))], existing
    )
    _log(f"[import] database {name}: fidela import orders, CSV")
    create_database(args.database_url, name)
    try:
        prepare_database(args, env, workdir)
        # Twice, keeping the faster: start-up (imports, typer, the engine) is noisy on 2 cores.
        _, startup, startup_cpu, _ = min(
            (
                _timed_import(folder / "empty" / "orders.csv", env, workdir, args.import_jobs)
                for _ in range(2)
            ),
            key=lambda run: run[1],
        )
        phases = []
        for sub, label in (("new", "new customers"), ("existing", "existing customers")):
            report, wall, cpu, pg_cpu = _timed_import(
                folder / sub / "orders.csv", env, workdir, args.import_jobs
            )
            rows = int(report["rows"])
            rejected = int(report["rejected"])
            net = max(wall - startup, 1e-9)
            phases.append(
                ImportPhase(
                    name=f"import, {label}",
                    rows=rows,
                    created=int(report["created"]),
                    rejected=rejected,
                    wall_s=wall,
                    startup_s=startup,
                    events_per_s=(rows - rejected) / net,
                    end_to_end_per_s=(rows - rejected) / wall,
                    import_cpu_ms=max(0.0, cpu - startup_cpu) * 1000.0 / max(rows, 1),
                    postgres_cpu_ms=pg_cpu * 1000.0 / max(rows, 1),
                    error_rate=rejected / rows if rows else 0.0,
                    error_samples=[json.dumps(p)[:300] for p in report["problems"][:3]],
                )
            )
            _log(f"  {label}: {phases[-1].events_per_s:,.0f} events/s")
        return phases
    finally:
        drop_database(args.database_url, name)


# --- The code under test -------------------------------------------------------------------

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass
class CodeVersion:
    """Which code the servers ran: the commit, the tree of src/ in it, whether src/ had
    uncommitted changes, and the newest modification time under src/. All but the commit are
    compared at the end to catch edits mid-run (a commit touching only docs is harmless)."""

    commit: str
    src_tree: str
    dirty: bool
    newest_change: float

    @classmethod
    def now(cls) -> CodeVersion:
        def git(*args: str) -> str:
            # --no-optional-locks: read-only, never rewrites the index under other sessions.
            done = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=SRC.parent,
                capture_output=True,
                text=True,
                check=False,
            )
            return done.stdout.strip() if done.returncode == 0 else ""

        newest = max((f.stat().st_mtime for f in SRC.rglob("*.py")), default=0.0)
        return cls(
            commit=git("rev-parse", "--short=12", "HEAD") or "unknown",
            src_tree=git("rev-parse", "--short=12", "HEAD:src"),
            dirty=bool(git("status", "--porcelain", "--", "src")),
            newest_change=newest,
        )

    def describe(self) -> str:
        return self.commit + (" with uncommitted changes in src/" if self.dirty else "")

    def same_code(self, other: CodeVersion) -> bool:
        return (self.src_tree, self.dirty, self.newest_change) == (
            other.src_tree,
            other.dirty,
            other.newest_change,
        )


# --- Report ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, NaN to None: the --json output must be strict JSON."""
    if isinstance(value, float):
        return None if value != value else round(value, 4)
    if hasattr(value, "__dataclass_fields__"):
        return {key: _plain(getattr(value, key)) for key in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _best(results: list[ConfigResult]) -> ConfigResult:
    return max(results, key=lambda r: r.singles[0].closed.rate)


def _ratio(phases: SinglePhases) -> float | None:
    return phases.closed.rate / phases.pgbench.tps if phases.pgbench else None


def report_lines(
    pgbenches: dict[int, PgbenchResult | None],
    results: list[ConfigResult],
    args: argparse.Namespace,
) -> list[str]:
    lines: list[str] = []
    for clients, pgbench in pgbenches.items():
        if pgbench is not None:
            lines.append(
                f"pgbench TPC-B scale {PGBENCH_SCALE}, {clients} clients, {args.seconds:g} s: "
                f"{pgbench.tps:,.0f} tps"
            )
    for result in results:
        lines.append(f"-- server workers: {result.server_workers}")
        for phases in result.singles:
            lines += _single_lines(phases, args)
        batch = result.batch
        for phase in (batch, result.fresh, result.seed):
            lines.append(
                f"POST /v1/events/batch ({phase.batch_size}/batch, {phase.clients} clients, "
                f"{phase.name}): {phase.events_per_s:,.0f} events/s -> "
                f"{phase.events_per_s / BATCH_GOAL_EVENTS_PER_S:.2f}x of "
                f"{BATCH_GOAL_EVENTS_PER_S:,.0f}/s goal ({phase.batches} batches, "
                f"{phase.batch_p50_s:.1f} s median per batch)"
            )
            if phase.cpu:
                lines.append("    " + phase.cpu.describe("event"))
        shares = [
            f"{p.name} ({p.clients} clients): {p.new_customer_share:.1%} of requests created "
            "a customer"
            for phases in result.singles
            for p in (phases.closed, phases.open)
            if p is not None
        ]
        lines.append("    " + "; ".join(shares))
        for phase_name, rate, samples in _error_rows(result):
            lines.append(f"    ERRORS in {phase_name}: {rate:.2%}: " + " | ".join(samples))
        for problem in result.server_log_problems:
            lines.append(f"    server log: {problem}")
    if len(results) > 1:
        lines.append(f"best: {_best(results).server_workers} server worker(s)")
    return lines


def _single_lines(phases: SinglePhases, args: argparse.Namespace) -> list[str]:
    single, opened = phases.closed, phases.open
    ratio = _ratio(phases)
    lines = [
        f"POST /v1/events single ({single.clients} clients, closed loop): "
        f"{single.rate:,.0f} tps, p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms"
        + ("" if ratio is None else f" -> {ratio:.2f}x pgbench (goal >= {SINGLE_GOAL_RATIO:.2f}x)")
    ]
    if single.cpu:
        lines.append("    " + single.cpu.describe("event"))
    if opened is not None and opened.offered_rate is not None:
        behind = (
            f"\n    {opened.not_sent:,} requests due by the window's end were never sent: "
            "the server cannot sustain this rate, so the p99 is a lower bound that grows "
            "with the run's length"
            if opened.not_sent
            else ""
        )
        share = "" if args.rate else f"{OPEN_LOOP_SHARE:.0%} of pgbench, "
        lines.append(
            f"POST /v1/events at a fixed rate ({share}{opened.offered_rate:,.0f}/s offered, "
            f"{opened.clients} connections): achieved {opened.rate:,.0f}/s, "
            f"p50 {opened.p50_ms:,.1f} ms, p99 {_bound(opened)}{opened.p99_ms:,.1f} ms "
            f"(goal < {P99_GOAL_MS:.0f} ms; from the scheduled send time; service time "
            f"p99 {opened.service_p99_ms or float('nan'):,.1f} ms){behind}"
        )
        if opened.cpu:
            lines.append("    " + opened.cpu.describe("event"))
    return lines


def import_lines(imports: list[ImportPhase]) -> list[str]:
    lines: list[str] = []
    for phase in imports:
        lines.append(
            f"fidela import orders (CSV, {phase.rows:,} orders, {phase.name}): "
            f"{phase.events_per_s:,.0f} events/s -> "
            f"{phase.events_per_s / BATCH_GOAL_EVENTS_PER_S:.2f}x of "
            f"{BATCH_GOAL_EVENTS_PER_S:,.0f}/s goal ({phase.wall_s:.1f} s wall, of which "
            f"{phase.startup_s:.1f} s start-up: {phase.end_to_end_per_s:,.0f}/s end to end)"
        )
        lines.append(
            f"    CPU per event: import {phase.import_cpu_ms:.2f} ms, PostgreSQL "
            f"{phase.postgres_cpu_ms:.2f} ms; {phase.created:,} created, "
            f"{phase.rejected:,} rejected"
            + (" | " + " | ".join(phase.error_samples) if phase.error_samples else "")
        )
    return lines


def import_rows(imports: list[ImportPhase]) -> list[str]:
    return [
        f"| - | {phase.name} (`fidela import orders`, CSV, {phase.rows:,} orders) | "
        f"{phase.events_per_s:,.0f} events/s ({phase.end_to_end_per_s:,.0f}/s with "
        f"{phase.startup_s:.1f} s start-up) | >= {BATCH_GOAL_EVENTS_PER_S:,.0f}/s | "
        f"{phase.events_per_s / BATCH_GOAL_EVENTS_PER_S:.2f}x |"
        for phase in imports
    ]


def _bound(phase: LatencyPhase) -> str:
    return ">= " if phase.not_sent else ""


def _error_rows(result: ConfigResult) -> list[tuple[str, float, list[str]]]:
    phases: list[LatencyPhase | BatchPhase | None] = [
        result.seed,
        *(p for single in result.singles for p in (single.closed, single.open)),
        result.batch,
        result.fresh,
    ]
    return [
        (phase.name, phase.error_rate, phase.error_samples)
        for phase in phases
        if phase is not None and (phase.error_rate > 0 or phase.error_samples)
    ]


def markdown_rows(
    pgbenches: dict[int, PgbenchResult | None], results: list[ConfigResult]
) -> list[str]:
    """The results table of docs/benchmarks.md."""
    rows = [
        "| Server workers | Measure | Result | Goal | Ratio |",
        "|---|---|---|---|---|",
    ]
    for clients, pgbench in pgbenches.items():
        if pgbench is not None:
            rows.append(
                f"| - | pgbench TPC-B, scale {PGBENCH_SCALE}, {clients} clients | "
                f"{pgbench.tps:,.0f} tps | peer | - |"
            )
    for r in results:
        w = r.server_workers
        for phases in r.singles:
            single, opened, ratio = phases.closed, phases.open, _ratio(phases)
            goal = (
                "-"
                if phases.pgbench is None
                else f">= {SINGLE_GOAL_RATIO * phases.pgbench.tps:,.0f} tps"
            )
            rows.append(
                f"| {w} | single event, closed loop, {phases.clients} clients | "
                f"{single.rate:,.0f} tps (p50 {single.p50_ms:.1f} ms, p99 {single.p99_ms:.1f} ms)"
                f" | {goal} | {'-' if ratio is None else f'{ratio:.2f}x pgbench'} |"
            )
            if opened is not None and opened.offered_rate is not None:
                rows.append(
                    f"| {w} | single event, {opened.offered_rate:,.0f}/s offered, "
                    f"{phases.clients} connections | {opened.rate:,.0f}/s achieved, p99 "
                    f"{_bound(opened)}{opened.p99_ms:,.0f} ms | p99 < {P99_GOAL_MS:.0f} ms | "
                    f"{opened.p99_ms / P99_GOAL_MS:.1f}x the limit |"
                )
        for phase in (r.batch, r.fresh, r.seed):
            rows.append(
                f"| {w} | {phase.name} ({phase.batch_size}/batch, {phase.clients} clients) | "
                f"{phase.events_per_s:,.0f} events/s | >= {BATCH_GOAL_EVENTS_PER_S:,.0f}/s | "
                f"{phase.events_per_s / BATCH_GOAL_EVENTS_PER_S:.2f}x |"
            )
    return rows


# --- Entry point ----------------------------------------------------------------------------


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("one or more positive integers, e.g. 1 or 1,2")
    return counts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--clients",
        type=_counts,
        default=[8, 32],
        help="pgbench and single-event HTTP clients; a list (8,32) measures each",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="uncounted start of a phase")
    parser.add_argument(
        "--server-workers",
        type=_counts,
        default=[1],
        help="`fidela serve --workers N`; a list (1,2) measures each",
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--batch-clients",
        type=int,
        # Two per core: with several server processes the kernel hands each keep-alive connection to
        # one worker at random, and with only two connections both land on one worker (one
        # core) half the time.
        default=4,
        help="concurrent batch senders",
    )
    parser.add_argument(
        "--customers",
        type=int,
        # Created through the batch endpoint before measuring (so the measured requests hit
        # existing profiles); at the ~150 events/s seen on 2 cores, 50,000 takes minutes.
        default=4_000,
        help="customer pool, created before measuring",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open-loop offered rate (default: 50%% of pgbench's tps; no open loop phase "
        "with --skip-pgbench unless given)",
    )
    parser.add_argument(
        "--open-loop-workers",
        type=int,
        default=None,
        help="connections of the open loop (default: --clients; more than the server's pool "
        "of 10 makes it open and close overflow connections, whose PostgreSQL CPU /proc loses)",
    )
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--skip-import", action="store_true", help="no `fidela import` phase")
    parser.add_argument(
        "--import-jobs",
        type=int,
        default=2,
        help="`fidela import orders --jobs`: processes importing in parallel",
    )
    parser.add_argument(
        "--import-orders",
        type=int,
        default=20_000,
        help="orders of existing customers in the import phase (after one per customer)",
    )
    parser.add_argument(
        "--earning",
        action="store_true",
        help="run with the demo loyalty programme active (earning rules and tiers)",
    )
    parser.add_argument("--pgbench", default="/usr/bin/pgbench", help="the pgbench binary")
    parser.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    parser.add_argument("--markdown", action="store_true", help="print the docs' results table")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin connection; the run creates and drops its own databases",
    )
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM then unwinds like Ctrl-C, so every `finally` stops servers and drops databases.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # A shell starting us in the background leaves SIGINT ignored; a benchmark must stop
    # (and clean up) on Ctrl-C or `kill -INT` whoever started it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args)
    except KeyboardInterrupt:
        _log("interrupted: servers stopped, scratch databases dropped")
        return 130


def _pgbench(args: argparse.Namespace, clients: int) -> PgbenchResult | None:
    """The peer at this client count, in a scratch database (None with --skip-pgbench)."""
    if args.skip_pgbench:
        return None
    name = f"pgbench_{secrets.token_hex(4)}"
    _log(f"pgbench: scale {PGBENCH_SCALE} into {name}, {clients} clients")
    create_database(args.database_url, name)
    try:
        pgbench = run_pgbench(
            args.database_url, name, clients=clients, seconds=args.seconds, binary=args.pgbench
        )
    finally:
        drop_database(args.database_url, name)
    _log(f"  {pgbench.tps:,.0f} tps")
    return pgbench


def _run(args: argparse.Namespace) -> int:
    settings = postgres_settings(args.database_url)
    code_before = CodeVersion.now()
    idle_load = machine_load()
    if idle_load > OTHER_LOAD_WARNING:
        _log(f"WARNING: the machine is {idle_load:.0%} busy before the run; other work competes")
    pgbenches = {clients: _pgbench(args, clients) for clients in args.clients}
    results: list[ConfigResult] = []
    imports: list[ImportPhase] = []
    with tempfile.TemporaryDirectory(prefix="fidela-bench-") as tmp:
        # Servers and imports run in an empty directory so no fidela.toml changes settings.
        for workers in args.server_workers:
            results.append(measure_config(args, workers, pgbenches, Path(tmp)))
        if not args.skip_import:
            imports = measure_import(args, Path(tmp))
    lines = report_lines(pgbenches, results, args) + import_lines(imports)
    code_after = CodeVersion.now()
    code_changed = not code_after.same_code(code_before)
    lines.insert(0, f"code: {code_before.describe()}")
    if code_changed:
        # Other people edit src/ on shared machines: a run that straddles an edit mixes
        # two versions of the code and must not be reported.
        lines.insert(1, f"WARNING: src/ changed during the run (now {code_after.describe()})")
    failures = [
        f"{r.server_workers} worker(s), {name}: {rate:.2%} errors"
        for r in results
        for name, rate, _ in _error_rows(r)
        if rate > ERROR_LIMIT
    ] + [f"{i.name}: {i.error_rate:.2%} rejected" for i in imports if i.error_rate > ERROR_LIMIT]
    if code_changed:
        failures.append("src/ changed during the run: the figures mix two versions")
    if args.json:
        best = _best(results)
        report = {
            "date": datetime.now(UTC).date().isoformat(),
            "code": {"before": code_before, "after": code_after, "changed": code_changed},
            "machine": {"cores": os.cpu_count(), "busy_before": idle_load, "postgres": settings},
            "clients": args.clients,
            "seconds": args.seconds,
            "pgbench": pgbenches,
            "configs": results,
            "import": imports,
            "best_server_workers": best.server_workers,
            "ratios": {
                "single_vs_pgbench": {p.clients: _ratio(p) for p in best.singles},
                "open_loop_p99_vs_limit": {
                    p.clients: p.open.p99_ms / P99_GOAL_MS if p.open else None for p in best.singles
                },
                "batch_vs_goal": best.batch.events_per_s / BATCH_GOAL_EVENTS_PER_S,
                "import_vs_goal": (
                    imports[-1].events_per_s / BATCH_GOAL_EVENTS_PER_S if imports else None
                ),
            },
            "failures": failures,
        }
        print(json.dumps(_plain(report), indent=2))
    # With --json the human report goes to stderr, keeping stdout machine-readable.
    out = sys.stderr if args.json else sys.stdout
    print(f"PostgreSQL settings: {settings}", file=out)
    print(f"machine: {os.cpu_count()} cores, {idle_load:.0%} busy before the run", file=out)
    print("\n".join(lines), file=out)
    if args.markdown:
        print("\n".join(markdown_rows(pgbenches, results) + import_rows(imports)))
    if failures:
        print("FAIL: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
