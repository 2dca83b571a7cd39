"""The personalisation variables templates see, gathered for many customers at once.

Each variable family comes from a provider: a function of (session, customer ids, now)
returning a value per customer. The profile and the points balance are built in; other
contexts' families (tier progress, affordable rewards, vouchers, recommended products) come
from ``providers.py``; a family with no data for a customer renders empty rather than
failing, so templates can be written before the data exists.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer.models import Customer
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerAccount

Provider = Callable[[Session, Sequence[int], datetime], dict[int, Any]]

# Families every template may use; absent ones render as empty.
FAMILIES = (
    "customer",
    "points",
    "tier",
    "recommended_products",
    "affordable_rewards",
    "vouchers",
)


def _empty(family: str) -> Any:
    return {} if family in ("customer", "points", "tier") else []


def profile_provider(session: Session, ids: Sequence[int], _now: datetime) -> dict[int, Any]:
    rows = session.execute(select(Customer).where(Customer.id.in_(ids))).scalars()
    return {
        row.id: {
            "id": row.id,
            "first_name": row.first_name or "",
            "last_name": row.last_name or "",
            "language": row.language,
            "timezone": row.timezone,
            "city": row.city or "",
            "birthday": row.birth_date.isoformat() if row.birth_date else None,
            "birthday_month_day": row.birth_date.strftime("%d/%m") if row.birth_date else None,
        }
        for row in rows
    }


def points_provider(programme: str, expiring_within_days: int = 30) -> Provider:
    def provide(session: Session, ids: Sequence[int], now: datetime) -> dict[int, Any]:
        found: dict[int, Any] = {}
        # One query tells who has an account at all; the others have a zero balance and cost
        # nothing more (most recipients of a large campaign may have none in a programme).
        with_account = set(
            session.execute(
                select(LedgerAccount.customer_id).where(
                    LedgerAccount.programme == programme, LedgerAccount.customer_id.in_(ids)
                )
            ).scalars()
        )
        zero = {"balance": 0, "pending": 0, "expiring": 0}
        for customer_id in ids:
            if customer_id not in with_account:
                found[customer_id] = {**zero, "expiring_within_days": expiring_within_days}
                continue
            balance = ledger.balance(
                session,
                customer_id=customer_id,
                programme=programme,
                now=now,
                expiring_within_days=expiring_within_days,
            )
            found[customer_id] = {
                "balance": balance.available,
                "pending": balance.pending,
                "expiring": balance.expiring,
                "expiring_within_days": expiring_within_days,
            }
        return found

    return provide


class ContextBuilder:
    """Providers per variable family; ``build`` answers every customer, every family."""

    def __init__(self, programme: str) -> None:
        self._providers: dict[str, Provider] = {
            "customer": profile_provider,
            "points": points_provider(programme),
        }

    def register(self, family: str, provider: Provider) -> None:
        """Add (or replace) the provider of one family of variables."""
        self._providers[family] = provider

    def build(
        self,
        session: Session,
        customer_ids: Sequence[int],
        now: datetime,
        families: Collection[str] | None = None,
    ) -> dict[int, dict[str, Any]]:
        """Every family for every customer; with ``families``, only those are looked up (the
        others are empty): a batch whose templates never mention rewards does not pay for
        them. The profile and the balance are always gathered (cheap, and used by layouts)."""
        ids = sorted(set(customer_ids))
        contexts: dict[int, dict[str, Any]] = {i: {} for i in ids}
        if not ids:
            return contexts
        wanted = None if families is None else {"customer", "points", *families}
        for family in sorted({*FAMILIES, *self._providers}):
            provider = self._providers.get(family)
            if wanted is not None and family not in wanted:
                provider = None
            values = provider(session, ids, now) if provider else {}
            for customer_id in ids:
                contexts[customer_id][family] = values.get(customer_id, _empty(family))
        return contexts


_builders: dict[str, ContextBuilder] = {}


def context_builder(programme: str) -> ContextBuilder:
    """The process-wide builder for a programme (wiring registers extra providers on it)."""
    if programme not in _builders:
        # Imported here: the providers module builds on this one (its Provider type).
        from fidela.engagement.providers import standard_providers

        builder = ContextBuilder(programme)
        for family, provider in standard_providers(programme).items():
            builder.register(family, provider)
        _builders[programme] = builder
    return _builders[programme]
