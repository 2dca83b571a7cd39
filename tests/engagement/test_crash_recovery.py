"""The worker killed (SIGKILL) in the middle of a 10,000-message send and restarted: every
message reaches the SMTP server exactly once.

Where a copy can come from: the worker records a batch's outcomes after the server accepted
its messages; a kill between the two leaves them ``queued`` under a lease that lapses, and the
restarted worker sends them again. They carry the same Message-ID (derived from the message
key), and the server, like a provider or a mailbox honouring Message-ID, keeps one. So the
server delivers each message exactly once, and the raw copies it saw are bounded by what one
worker has in flight (one job)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fidela.engagement.messages import Content, MessageRequest, enqueue_messages
from fidela.engagement.models import Message
from fidela.engagement.rules import Channel, message_id_header
from fidela.platform.db import Database
from tests.conftest import T0
from tests.engagement.conftest import SECRET
from tests.engagement.mailsink import MailSink, SinkServer
from tests.engagement.population import customers_with_email

COUNT = 10_000
BATCH = 200
DOMAIN = "crash.example"


def _start_worker(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FIDELA_DATABASE_URL": database_url,
        "FIDELA_WORKER_LEASE_SECONDS": "5",
        "FIDELA_WORKER_POLL_SECONDS": "0.1",
        "FIDELA_WORKER_BATCH_SIZE": "5",
        "FIDELA_LOG_LEVEL": "warning",
        "FIDELA_ENGAGEMENT_SMTP_PORT": str(port),
        "FIDELA_ENGAGEMENT_MESSAGE_ID_DOMAIN": DOMAIN,
        "FIDELA_ENGAGEMENT_SIGNING_SECRET": SECRET,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "fidela", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe: a full pipe would block the worker.
        stderr=log.open("ab"),
    )


def _wait(
    condition: Callable[[], bool],
    seconds: float,
    what: str,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if worker.poll() is not None:
            errors = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the worker exited ({worker.returncode}) before {what}: {errors}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_worker_killed_mid_send_and_restarted_delivers_every_message_exactly_once(
    committed_database: Database, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with committed_database.write() as session:
        ids = customers_with_email(session, COUNT, T0, "crash")
    for start in range(0, COUNT, 5000):
        with committed_database.write() as session:
            enqueue_messages(
                session,
                [
                    MessageRequest(customer_id=c, key=f"crash:{c}")
                    for c in ids[start : start + 5000]
                ],
                channel=Channel.EMAIL,
                now=T0,
                content=Content("Votre reçu {{ customer.first_name }}", "<p>Merci !</p>"),
                transactional=True,
                batch_size=BATCH,
            )
    sink = MailSink(keep_bodies=False)
    with SinkServer(sink) as server:
        first = _start_worker(database_url, server.port, log)
        try:
            _wait(
                lambda: len(sink.received) >= COUNT // 3, 120, "a third of the messages", first, log
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = len(sink.received)
        assert at_kill < COUNT, "the worker finished before it could be killed"

        second = _start_worker(database_url, server.port, log)
        try:

            def all_sent() -> bool:
                with committed_database.read() as session:
                    return (
                        session.execute(
                            select(func.count()).where(Message.state == "sent")
                        ).scalar_one()
                        == COUNT
                    )

            _wait(all_sent, 240, "every message to be recorded as sent", second, log)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        assert second.returncode == 0, log.read_text(errors="replace")[-2000:]

    expected = {message_id_header(f"crash:{c}", DOMAIN) for c in ids}
    assert len(sink.delivered) == COUNT
    assert set(sink.delivered) == expected
    # Copies are bounded by one job in flight when the worker was killed.
    assert sink.duplicates <= BATCH
