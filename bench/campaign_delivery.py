"""Benchmark of email delivery: one worker draining a campaign to a local SMTP server.

Builds a fresh database (SQLite file by default, or ``--database-url``) with ``--messages``
customers who consented to email, a brand kit and an MJML template with personalisation and a
tracked link, queues one campaign message each with ``enqueue_messages``, starts an aiosmtpd
server in a separate process, and times one in-process ``Worker`` (the same runner as
``fidela worker``) until every message is recorded as sent. Prints messages per second against
the 500 msg/s target as a ratio (above 1.0 meets it) and checks that the server received each
message exactly once. Before that it measures the bare SMTP pipe on the same machine at the
same moment (aiosmtplib sending ready-made messages to the same server), so a figure taken on
a busy machine can be read against what the machine allowed.

    .venv/bin/python bench/campaign_delivery.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import aiosmtplib
from sqlalchemy import func, select

from fidela.customer.models import ConsentRecord, ConsentState, Customer, CustomerIdentity
from fidela.engagement.config import EngagementSettings
from fidela.engagement.jobs import register_engagement_jobs
from fidela.engagement.messages import MessageRequest, enqueue_messages
from fidela.engagement.models import Message
from fidela.engagement.rules import Channel
from fidela.engagement.templates import BrandKitInput, save_brand_kit, save_template
from fidela.platform import migrate
from fidela.platform.bulk import insert_rows
from fidela.platform.db import Database, table_of
from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.worker.runner import Worker

TARGET_PER_SECOND = 500.0
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

SINK = r"""
import re, signal, sys, threading, time
from aiosmtpd.controller import Controller
ids = {}
pattern = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        found = pattern.search(envelope.original_content or b"")
        key = found.group(1) if found else b"?"
        ids[key] = ids.get(key, 0) + 1
        return "250 OK"
controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
print("ready", flush=True)
done.wait()
controller.stop()
print(len(ids), sum(ids.values()), flush=True)
"""

TEMPLATE = """
<mj-section><mj-column>
  <mj-text font-size="20px">Bonjour {{ customer.first_name }} !</mj-text>
  <mj-text>Vous avez {{ points.balance }} points. Votre code : <b>{{ voucher_code }}</b></mj-text>
  <mj-button href="https://shop.lumiere.example/offres?c={{ customer.id }}">
    Voir les offres
  </mj-button>
</mj-column></mj-section>
"""


async def _raw_pipe(port: int, connections: int, count: int) -> float:
    """Messages per second of bare aiosmtplib sends of a ready-made 7 kB message over the
    same number of connections to the same server: the ceiling the machine allows right
    now (the server's own cost included), measured next to the worker's figure."""
    body = b"".join(b"x" * 70 + b"\r\n" for _ in range(100))
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    pending = list(range(count))

    async def drain(client: aiosmtplib.SMTP) -> None:
        while pending:
            n = pending.pop()
            data = b"From: a@x.example\r\nMessage-ID: <raw-%d@x>\r\n\r\n" % n + body
            await client.sendmail("a@x.example", ["b@x.example"], data)

    started = time.perf_counter()
    await asyncio.gather(*(drain(c) for c in clients))
    seconds = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return count / seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _populate(database: Database, count: int) -> list[int]:
    with database.write() as session:
        save_brand_kit(
            session,
            values=BrandKitInput(
                name="Café Lumière",
                logo_url="https://cdn.lumiere.example/logo.png",
                colours={"primary": "#c0392b"},
                signature="L'équipe Café Lumière",
                legal_footer="Café Lumière SAS, 75011 Paris",
            ),
            now=NOW,
        )
        save_template(
            session,
            code="promo",
            channel=Channel.EMAIL,
            language="fr",
            subject="{{ customer.first_name }}, -20 % cette semaine",
            body=TEMPLATE,
            text_body="",
            now=NOW,
        )
    ids: list[int] = []
    for start in range(0, count, 5000):
        size = min(5000, count - start)
        with database.write() as session:
            rows = [
                {
                    "status": "active",
                    "first_name": f"Client{start + i}",
                    "language": "fr",
                    "tags": {},
                    "attributes": {},
                    "profiling_restricted": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "version": 1,
                }
                for i in range(size)
            ]
            new = [
                int(r[0]) for r in insert_rows(session, table_of(Customer), rows, returning=("id",))
            ]
            insert_rows(
                session,
                table_of(CustomerIdentity),
                [
                    {
                        "customer_id": c,
                        "kind": "email",
                        "namespace": "",
                        "value": f"client{c}@example.com",
                        "verified": True,
                        "created_at": NOW,
                    }
                    for c in new
                ],
            )
            records = insert_rows(
                session,
                table_of(ConsentRecord),
                [
                    {
                        "customer_id": c,
                        "channel": "email",
                        "purpose": "marketing",
                        "status": "granted",
                        "source": "bench",
                        "proof": {},
                        "occurred_at": NOW,
                        "recorded_at": NOW,
                    }
                    for c in new
                ],
                returning=("id", "customer_id"),
            )
            insert_rows(
                session,
                table_of(ConsentState),
                [
                    {
                        "customer_id": c,
                        "channel": "email",
                        "purpose": "marketing",
                        "status": "granted",
                        "since": NOW,
                        "record_id": r,
                    }
                    for r, c in records
                ],
            )
            ids.extend(new)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections")
    parser.add_argument("--batch-size", type=int, default=200, help="messages per outbox job")
    args = parser.parse_args(argv)

    directory = pathlib.Path(tempfile.mkdtemp(prefix="fidela-delivery-"))
    url = args.database_url or f"sqlite:///{directory / 'bench.db'}"
    database = Database.from_url(url)
    migrate.upgrade(database.bind)
    customers = _populate(database, args.messages)
    started = time.perf_counter()
    for start in range(0, len(customers), 5000):
        with database.write() as session:
            enqueue_messages(
                session,
                [
                    MessageRequest(
                        customer_id=c, key=f"bench:{c}", context={"voucher_code": f"V{c}"}
                    )
                    for c in customers[start : start + 5000]
                ],
                channel=Channel.EMAIL,
                now=NOW,
                template="promo",
                campaign_id=1,
                batch_size=args.batch_size,
            )
    enqueue_seconds = time.perf_counter() - started

    port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None
    sink.stdout.readline()
    raw = min(args.messages, 3000)
    raw_rate = asyncio.run(_raw_pipe(port, args.connections, raw))
    registry = JobRegistry()
    delivery = register_engagement_jobs(
        registry,
        Settings(database_url=url, public_url="https://fidela.example"),
        EngagementSettings(
            smtp_port=port,
            smtp_connections=args.connections,
            batch_size=args.batch_size,
            signing_secret="bench",  # noqa: S106 - a throwaway secret for a local run
        ),
    )
    worker = Worker(database, registry, clock=lambda: datetime.now(UTC))
    started = time.perf_counter()
    stats = worker.run_until_idle()
    seconds = time.perf_counter() - started
    delivery.close()
    sink.send_signal(signal.SIGTERM)
    distinct, received = (int(x) for x in sink.communicate(timeout=30)[0].split())
    with database.read() as session:
        sent = session.execute(select(func.count()).where(Message.state == "sent")).scalar_one()
    rate = sent / seconds if seconds else 0.0
    print(
        json.dumps(
            {
                "messages": args.messages,
                "database": url.split(":")[0],
                "enqueue_seconds": round(enqueue_seconds, 2),
                "deliver_seconds": round(seconds, 2),
                "sent": sent,
                "smtp_received": received - raw,
                "smtp_distinct_message_ids": distinct - raw,
                "jobs_done": stats.done,
                "messages_per_second": round(rate, 1),
                "ratio_to_target": round(rate / TARGET_PER_SECOND, 2),
                "raw_smtp_pipe_per_second": round(raw_rate, 1),
                "ratio_to_raw_pipe": round(rate / raw_rate, 2) if raw_rate else None,
                "load_average": [round(x, 1) for x in os.getloadavg()],
            },
            indent=2,
        )
    )
    database.dispose()
    if not os.environ.get("FIDELA_BENCH_KEEP"):
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
    ok = sent == args.messages == distinct - raw == received - raw
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
