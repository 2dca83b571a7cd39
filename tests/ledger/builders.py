"""Customers and ledger reads for the ledger tests, built through the public use cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.schemas import ProfileFields
from fidela.ledger.models import LedgerAccount, LedgerLot

PROGRAMME = "main"


def new_customer(session: Session, now: datetime) -> int:
    customer = customers.create_customer(session, fields=ProfileFields(), identities=[], now=now)
    return customer.id


def cached(session: Session, customer_id: int, programme: str = PROGRAMME) -> tuple[int, int]:
    """The cached (available, pending) of an account."""
    account = session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.customer_id == customer_id, LedgerAccount.programme == programme)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return account.available, account.pending


def remaining_by_lot(session: Session, customer_id: int) -> dict[int, int]:
    rows = session.execute(
        select(LedgerLot.id, LedgerLot.remaining)
        .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
        .where(LedgerAccount.customer_id == customer_id)
        .order_by(LedgerLot.id)
        .execution_options(populate_existing=True)
    ).all()
    return {int(lot_id): int(remaining) for lot_id, remaining in rows}
