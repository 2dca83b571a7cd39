"""`fidela serve --workers N`: processes with a listening socket each, under our supervisor."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

import httpx2
import pytest

from fidela.cli.processes import reserve, reuseport_socket, supervise
from tests.databases import fresh_database_url
from tests.event.builders import simple

FIDELA = [sys.executable, "-m", "fidela"]
AT = datetime(2026, 3, 1, 10, tzinfo=UTC)

# --- targets for the supervisor (module level: spawned processes import them) -------------


def note_and_exit(path: str, slot: int) -> None:
    with open(path, "a") as out:
        out.write(f"{os.getpid()} {slot}\n")
    time.sleep(0.3)


def note_and_sleep(path: str, slot: int) -> None:
    with open(path, "a") as out:
        out.write(f"{os.getpid()} {slot}\n")
    time.sleep(120)


def _lines(path: Path) -> list[str]:
    """The pid of each process started, in order."""
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def _slots(path: Path) -> list[int]:
    return [int(line.split()[1]) for line in path.read_text().splitlines()]


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


class _Supervised:
    """``supervise`` on a thread (signals are the CLI's business), its answer kept."""

    def __init__(
        self, target: Callable[[str, int], None], path: Path, count: int, **options: float
    ) -> None:
        self.stopping = threading.Event()
        self.code: int | None = None

        def run() -> None:
            self.code = supervise(target, (str(path),), count, self.stopping.is_set, **options)

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def stop(self) -> int | None:
        self.stopping.set()
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.code


# --- sockets ------------------------------------------------------------------------------


def test_several_sockets_listen_on_one_port_with_reuseport() -> None:
    first = reuseport_socket("127.0.0.1", 0, listen=True)
    port = first.getsockname()[1]
    with first, reuseport_socket("127.0.0.1", port, listen=True) as second:
        assert second.getsockname()[1] == port


def test_the_reserved_port_refuses_a_server_without_reuseport() -> None:
    with reuseport_socket("127.0.0.1", 0, listen=False) as reserved:
        port = reserved.getsockname()[1]
        with socket.socket() as plain, pytest.raises(OSError, match="in use"):
            plain.bind(("127.0.0.1", port))


def test_a_port_another_server_listens_on_cannot_be_reserved() -> None:
    with reuseport_socket("127.0.0.1", 0, listen=True) as other:
        port = other.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            reserve("127.0.0.1", port)


def test_a_free_port_is_reserved_and_its_processes_can_listen() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with reserve("127.0.0.1", port), reuseport_socket("127.0.0.1", port, listen=True):
        pass


def test_a_reserved_port_that_does_not_listen_gets_no_connection() -> None:
    with reuseport_socket("127.0.0.1", 0, listen=False) as reserved:
        port = reserved.getsockname()[1]
        with socket.socket() as client, pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", port))


# --- the supervisor -----------------------------------------------------------------------


def test_a_process_that_dies_after_starting_is_started_again(tmp_path: Path) -> None:
    notes = tmp_path / "started"
    supervised = _Supervised(note_and_exit, notes, 2, early_exit=0.05, grace=5)
    _wait_for(lambda: len(_lines(notes)) >= 4)
    assert supervised.stop() == 0
    assert len(set(_lines(notes))) >= 4  # new processes, not the same ones
    # Each started again in its own slot: the first two are 0 and 1, and every later one
    # takes over a slot that is not in use.
    slots = _slots(notes)
    assert sorted(slots[:2]) == [0, 1]
    assert set(slots) == {0, 1}


def test_processes_that_die_at_start_up_stop_everything(tmp_path: Path) -> None:
    notes = tmp_path / "started"
    supervised = _Supervised(note_and_exit, notes, 2, early_exit=60, grace=5)
    supervised.thread.join(60)
    assert supervised.code == 1
    assert len(_lines(notes)) == 2  # nothing started again


def test_stopping_ends_every_process(tmp_path: Path) -> None:
    notes = tmp_path / "started"
    supervised = _Supervised(note_and_sleep, notes, 2, early_exit=0.05, grace=1)
    _wait_for(lambda: len(_lines(notes)) == 2)
    assert supervised.stop() == 0
    for pid in _lines(notes):
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


# --- the command, on PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="module")
def serve_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("serve")
    with fresh_database_url(directory) as url:
        if url.startswith("sqlite"):
            pytest.skip("several server processes need PostgreSQL")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
        env.update({"FIDELA_DATABASE_URL": url, "FIDELA_CONFIG": str(directory / "none.toml")})
        subprocess.run(
            [sys.executable, "-m", "fidela", "db", "upgrade"], env=env, check=True, timeout=120
        )
        yield env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _established_on(port: int) -> set[str]:
    """Socket inodes of the connections this machine accepted on ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


@contextlib.contextmanager
def _serving(env: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``fidela serve --workers 2`` with both processes listening: (port, supervisor)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "fidela", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx2.get(f"{base}/health", timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        _wait_for(ready, timeout=90)
        _wait_for(lambda: len(_children(server.pid)) >= 2, timeout=30)
        time.sleep(2)  # the second process may still be starting
        yield port, server
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    assert server.returncode == 0


def test_keep_alive_connections_spread_over_the_processes(serve_env: dict[str, str]) -> None:
    clients: list[httpx2.Client] = []
    with _serving(serve_env) as (port, server):
        try:
            # 24 clients of one keep-alive connection each, all opened at once.
            base = f"http://127.0.0.1:{port}"
            clients = [httpx2.Client(base_url=base, timeout=10) for _ in range(24)]
            for client in clients:
                assert client.get("/health").status_code == 200
            accepted = _established_on(port)
            held = [len(_socket_inodes(pid) & accepted) for pid in _children(server.pid)]
            served = [count for count in held if count]
            # Under one shared socket the process woken first took every pending connection;
            # the kernel's hash puts all 24 on one of two sockets with a probability of 2 in
            # 2**24.
            assert len(served) == 2, held
            assert sum(served) == 24
        finally:
            for client in clients:
                client.close()


def _peers_on(port: int) -> dict[int, str]:
    """Socket inode of each connection accepted on ``port``, by its peer's port."""
    peers = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
            peers[int(remote.rsplit(":", 1)[1], 16)] = inode
    return peers


def _serving_process(port: int, server: subprocess.Popen[bytes], conn: HTTPConnection) -> int:
    """The server process holding the far end of ``conn`` (open)."""
    assert conn.sock is not None
    inode = _peers_on(port)[conn.sock.getsockname()[1]]
    (pid,) = [pid for pid in _children(server.pid) if inode in _socket_inodes(pid)]
    return pid


def _api_key(env: dict[str, str]) -> str:
    created = subprocess.run(
        [*FIDELA, "apikey", "create", "--name", "batches", "--scope", "events:write", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return str(json.loads(created.stdout)["token"])


def test_batch_senders_pinned_to_one_process_are_spread_over_both(
    serve_env: dict[str, str],
) -> None:
    headers = {"Authorization": f"Bearer {_api_key(serve_env)}"}
    headers["Content-Type"] = "application/json"
    with _serving(serve_env) as (port, server):
        # Four keep-alive connections the kernel placed on the same process.
        opened: list[tuple[HTTPConnection, int]] = []
        for _ in range(24):
            conn = HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/health")
            assert conn.getresponse().read()
            opened.append((conn, _serving_process(port, server, conn)))
        pinned = Counter(pid for _, pid in opened).most_common(1)[0][0]
        senders = [conn for conn, pid in opened if pid == pinned][:4]
        for conn, _ in opened:
            if conn not in senders:
                conn.close()
        assert len(senders) == 4
        kept_by: Counter[int] = Counter()
        lock = threading.Lock()

        def send(index: int) -> None:
            conn = senders[index]
            for batch in range(12):
                events = [
                    simple("login", f"L-{index}-{batch}-{n}", AT, {"email": f"s{index}@x.org"})
                    for n in range(40)
                ]
                conn.request("POST", "/v1/events/batch", json.dumps({"events": events}), headers)
                response = conn.getresponse()
                assert json.loads(response.read())["accepted"] == 40
                if conn.sock is not None:  # kept open: answered by the process holding it
                    with lock:
                        kept_by[_serving_process(port, server, conn)] += 1

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        held = Counter(_serving_process(port, server, c) for c in senders if c.sock is not None)
        for conn in senders:
            conn.close()
    # Without the spreading, the process holding all four answered every batch.
    assert len(kept_by) == 2, kept_by
    assert max(held.values()) <= 2, held
