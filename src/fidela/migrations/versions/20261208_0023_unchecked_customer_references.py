"""PostgreSQL no longer checks the customer and programme named by every ingested order

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08

The reasoning of 0021 and 0022, for the references to customers and programmes that
ingestion writes with every event, order and earning:

- ``event.customer_id``, ``sales_order.customer_id``, ``customer_identity.customer_id`` and
  ``loyalty_earning.customer_id``: each names the customer the ingestion resolved in the same
  transaction (created by it, or found through an identity; an id given explicitly is looked
  up first and refused when missing). Customers are never deleted: a merge marks the merged
  profile, an erasure pseudonymises it;
- ``loyalty_earning.programme_id``: the programme in force that earned it, read in the same
  transaction; programmes are never deleted either.

Each check looked up and locked the customer (or programme) row once per row written (for
an existing customer, the lock rewrote that row and logged it). In process, batches of 1,000 orders
of existing customers without a programme made PostgreSQL spend 61.5-65.5 ms a batch with
the two order-path checks and 48.5-61.5 without them; with the demo programme, the
earning's two more took about ten milliseconds of its insert (docs/benchmarks.md, session
24). The other references to customers (rewards, referrals, consents, engagement, tiers,
accounts) are written by requests about one customer and stay checked. PostgreSQL only, as
0021: SQLite keeps enforcing them, and ``fidela db verify`` counts rows naming nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from fidela.migrations.foreign_keys import Reference, drop_checks, restore_checks

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No ON DELETE rule: nothing deletes the rows they name.
REFERENCES: tuple[Reference, ...] = (
    ("event", "customer_id", "customer", None),
    ("sales_order", "customer_id", "customer", None),
    ("customer_identity", "customer_id", "customer", None),
    ("loyalty_earning", "customer_id", "customer", None),
    ("loyalty_earning", "programme_id", "loyalty_programme", None),
)


def upgrade() -> None:
    drop_checks(REFERENCES)


def downgrade() -> None:
    restore_checks(REFERENCES)
