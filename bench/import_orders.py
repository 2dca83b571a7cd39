"""Benchmark: import order lines through ``fidela import orders`` (goal: 1M lines in < 60 s).

Generates a demo data set sized to the requested number of order lines (about 10 lines per
customer), imports its customers first (timed apart: issue 3's import goal, 10,000 rows/s),
then times the import of the orders with their lines into a fresh database, and prints the
rates and the ratios to the 60 s limit scaled to the number of lines measured and to the
customers' goal. Both times include the command's start-up (about a second).

    .venv/bin/python bench/import_orders.py --lines 1000000 [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from fidela.demo import GenerationConfig, generate

LIMIT_SECONDS_PER_MILLION = 60.0
LINES_PER_CUSTOMER = 10.1  # the generator's default behaviour (measured at 1M customers)
CUSTOMER_GOAL_PER_SECOND = 10_000.0  # issue 3: the import, at least 10,000 rows/s


def fidela(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fidela", *args], env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines to import")
    parser.add_argument("--database-url", default="", help="admin PostgreSQL URL; SQLite if empty")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument(
        "--customers-first",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="import the customers file first, timed apart (--no-customers-first: the "
        "orders import creates each customer from its first order)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="`fidela import orders --jobs` on PostgreSQL (SQLite takes one writer)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fidela-import-bench-"))
    customers = max(1, round(args.lines / LINES_PER_CUSTOMER))
    report = generate(
        GenerationConfig(customers=customers, seed=1, out_dir=work / "data", formats=(args.format,))
    )
    lines = report.rows["order_lines"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
    env["FIDELA_LOG_LEVEL"] = "warning"
    database_name = ""
    if args.database_url:
        database_name = f"fidela_import_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.database_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database_name}"')
        base = args.database_url.rsplit("/", 1)[0]
        env["FIDELA_DATABASE_URL"] = f"{base}/{database_name}"
    else:
        env["FIDELA_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
    customer_seconds = 0.0
    try:
        fidela(env, "db", "upgrade")
        if args.customers_first:
            customer_seconds = fidela(
                env,
                "import",
                "customers",
                str(work / "data" / f"customers.{args.format}"),
                "--source",
                "demo",
                "--quiet",
            )
        seconds = fidela(
            env,
            "import",
            "orders",
            str(work / "data" / f"orders.{args.format}"),
            "--source",
            "demo",
            "--quiet",
            "--jobs",
            str(args.jobs if args.database_url else 1),
        )
    finally:
        if database_name:
            with psycopg.connect(args.database_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
    limit = LIMIT_SECONDS_PER_MILLION * lines / 1_000_000
    engine = "postgresql" if args.database_url else "sqlite"
    jobs = args.jobs if args.database_url else 1
    if args.customers_first:
        rate = report.rows["customers"] / customer_seconds
        print(
            f"import customers ({engine}, {args.format}, 1 process): "
            f"{report.rows['customers']:,} rows in {customer_seconds:.1f} s = {rate:,.0f} rows/s; "
            f"{rate / CUSTOMER_GOAL_PER_SECOND:.2f}x of the {CUSTOMER_GOAL_PER_SECOND:,.0f} rows/s "
            "goal (>= 1.0 meets it)"
        )
    print(
        f"import orders ({engine}, {args.format}, {jobs} process(es), "
        f"customers {'imported first' if args.customers_first else 'created by the orders'}): "
        f"{report.rows['orders']:,} orders / "
        f"{lines:,} lines in {seconds:.1f} s = {lines / seconds:,.0f} lines/s; "
        f"{seconds / limit:.2f}x of the {limit:.1f} s limit (60 s per 1M lines; < 1.0 meets it)"
    )


if __name__ == "__main__":
    main()
