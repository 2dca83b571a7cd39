"""Benchmark of campaign planning: 1,000,000 recipients in at most 60 seconds.

Builds a scratch PostgreSQL database (created on ``--admin-url``'s server, dropped after unless
``--keep``), fills it set-based with ``--recipients`` customers spread over five timezones
(Paris, New York, Tokyo, Auckland, none), marketing consent to email for all and to SMS and
push for some (a tenth refuse email, so channel choice and fallback have work to do), and two
marketing messages already sent today to one customer in twenty (so caps refuse some). Then it
times ``plan_campaign`` for one campaign to all of them: audience → global control group →
consent and channel → quiet hours (four of the five zones are at night or evening at the send
time) → caps → A/B split with a 10 % holdout → content check → bulk enqueue of message rows and
outbox jobs, in one transaction, as ``fidela campaign plan`` does.

Prints the seconds against the 60 s limit as a ratio (limit / seconds: above 1.0 meets it),
with the planning outcome counts.

    .venv/bin/python bench/campaign.py --recipients 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from sqlalchemy import func, select, text

from fidela.engagement.campaigns import service as campaigns
from fidela.engagement.campaigns.service import CampaignSpec
from fidela.engagement.models import Message
from fidela.platform import migrate
from fidela.platform.db import Database, create_db_engine
from fidela.platform.outbox.models import OutboxMessage

LIMIT_SECONDS = 60.0
# Monday 2 November 2026, 10:30 in Paris: 04:30 in New York, 18:30 in Tokyo, 22:30 in
# Auckland.
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _database_url(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


def populate(database: Database, recipients: int) -> None:
    """Customers, consents and earlier sends, generated in the database (set-based)."""
    statements = [
        """INSERT INTO customer (status, timezone, preferred_channel, country, language,
                tags, attributes, profiling_restricted, created_at, updated_at, version)
            SELECT 'active', (ARRAY['Europe/Paris', 'America/New_York', 'Asia/Tokyo',
                   'Pacific/Auckland', NULL])[1 + g % 5],
                   CASE WHEN g % 7 = 0 THEN 'sms' WHEN g % 11 = 0 THEN 'push' END,
                   'FR', 'fr', '{}'::jsonb, '{}'::jsonb, false, :now, :now, 1
            FROM generate_series(1, :n) AS g""",
        """INSERT INTO consent_record (customer_id, channel, purpose, status, source, proof,
                occurred_at, recorded_at)
            SELECT id, 'email', 'marketing',
                   CASE WHEN id % 10 = 0 THEN 'denied' ELSE 'granted' END,
                   'bench', '{}'::jsonb, :now, :now FROM customer
            UNION ALL
            SELECT id, 'sms', 'marketing', 'granted', 'bench', '{}'::jsonb, :now, :now
            FROM customer WHERE id % 3 = 0
            UNION ALL
            SELECT id, 'push', 'marketing', 'granted', 'bench', '{}'::jsonb, :now, :now
            FROM customer WHERE id % 11 = 0""",
        """INSERT INTO consent_state (customer_id, channel, purpose, status, since, record_id)
            SELECT customer_id, channel, purpose, status, occurred_at, id FROM consent_record""",
        """INSERT INTO engagement_message (key, customer_id, channel, context, state,
                transactional, attempts, created_at, deliver_at)
            SELECT 'earlier:' || id || ':' || k, id, 'email', '{}'::jsonb, 'sent', false, 1,
                   :now, :now - interval '1 hour'
            FROM customer, generate_series(1, 2) AS k WHERE id % 20 = 0""",
    ]
    with database.write() as session:
        for statement in statements:
            session.execute(text(statement), {"now": NOW, "n": recipients})
    with database.write() as session:
        session.execute(text("ANALYZE"))


def _backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend serving us has used (user + system), when the
    server runs on this machine; NaN otherwise."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> float:
    return os.getloadavg()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "FIDELA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    name = f"fidela_bench_campaign_{secrets.token_hex(4)}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    engine = create_db_engine(_database_url(args.admin_url, name))
    try:
        migrate.upgrade(engine)
        database = Database(engine)
        started = time.perf_counter()
        populate(database, args.recipients)
        setup = time.perf_counter() - started
        with database.write() as session:
            campaigns.create_campaign(
                session,
                now=NOW,
                spec=CampaignSpec(
                    "bench",
                    "Benchmark",
                    {"filters": {}},
                    channel="preferred",
                    holdout_bp=1000,
                    variants=[
                        {
                            "name": "a",
                            "content": {
                                "subject": "Hello {{ customer.first_name }}",
                                "body": "Your points: {{ points.balance }}",
                            },
                        },
                        {
                            "name": "b",
                            "offer": "B10",
                            "content": {
                                "subject": "A gift, {{ customer.first_name }}",
                                "body": "Use {{ offer }} before Sunday",
                            },
                        },
                    ],
                    expires_after_hours=48,
                ),
            )
        with database.write() as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            server_before = _backend_cpu(backend)
            client_before = time.process_time()
            started = time.perf_counter()
            report = campaigns.plan_campaign(session, code="bench", now=NOW)
            client_cpu = time.process_time() - client_before
            server_cpu = _backend_cpu(backend) - server_before
        seconds = time.perf_counter() - started
        with database.read() as session:
            campaign_id = campaigns.get_campaign(session, "bench").id
            messages = session.execute(
                select(func.count()).where(Message.campaign_id == campaign_id)
            ).scalar_one()
            jobs = session.execute(
                select(func.count()).where(OutboxMessage.topic == "engagement.deliver")
            ).scalar_one()
    finally:
        engine.dispose()
        if not args.keep:
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    result = {
        "recipients": args.recipients,
        "setup_seconds": round(setup, 1),
        "plan_seconds": round(seconds, 2),
        "limit_seconds": LIMIT_SECONDS,
        "ratio": round(LIMIT_SECONDS / seconds, 2),
        "recipients_per_second": round(args.recipients / seconds),
        "cpu_client_seconds": round(client_cpu, 2),
        "cpu_server_seconds": round(server_cpu, 2),
        "load_average_1m": round(_load(), 2),
        "cpus": os.cpu_count(),
        "messages_recorded": messages,
        "delivery_jobs": jobs,
        **report.as_dict(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"campaign planning, {args.recipients:,} recipients on PostgreSQL")
        print(f"  setup (not timed): {setup:.1f} s")
        print(
            f"  plan: {seconds:.2f} s against {LIMIT_SECONDS:.0f} s "
            f"-> ratio {LIMIT_SECONDS / seconds:.2f} (above 1.0 meets the limit)"
        )
        print(
            f"  {args.recipients / seconds:,.0f} recipients/s; {messages:,} message records, "
            f"{jobs:,} delivery jobs"
        )
        print(f"  outcomes: {report.as_dict()['outcomes']}")
        print(f"  variants: {report.as_dict()['variants']}")
        print(f"  channels: {report.as_dict()['channels']}")
    return 0 if seconds <= LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
