"""PostgreSQL no longer checks an order earning's order, nor a ledger entry's lot

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

The same reasoning as 0021, for the two rows every order earning with a programme writes:

- ``loyalty_earning.order_id``: written in the transaction that recorded the order, from
  the id its insert returned; orders are never deleted;
- ``ledger_entry.lot_id``: an earn entry is written by the statement that inserts its lot,
  from the id it returns; every other entry names a lot read under its account's lock; lots
  are never deleted (a merge moves them to the surviving account).

Each check looked up and locked the row named, once per row: in process, batches of 1,000
orders of existing members with the demo programme waited 184-225 ms a batch for
PostgreSQL with them and 151-165 ms without (docs/benchmarks.md, session 23). The ledger's
other references (to its account, which a merge deletes) stay checked. PostgreSQL only, as
0021: SQLite keeps enforcing them, and ``fidela db verify`` counts rows naming nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from fidela.migrations.foreign_keys import Reference, drop_checks, restore_checks

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No ON DELETE rule: nothing deletes the rows they name.
REFERENCES: tuple[Reference, ...] = (
    ("loyalty_earning", "order_id", "sales_order", None),
    ("ledger_entry", "lot_id", "ledger_lot", None),
)


def upgrade() -> None:
    drop_checks(REFERENCES)


def downgrade() -> None:
    restore_checks(REFERENCES)
