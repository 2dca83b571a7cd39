"""Customer look-ups that feed resolution, on both databases."""

from __future__ import annotations

from sqlalchemy import update

from fidela.customer import repository
from fidela.customer.models import Customer
from fidela.customer.rules import Identity, IdentityKind
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.customer.fixtures import ingest
from tests.event.builders import order


def test_owners_come_with_their_status_and_merge_target_in_one_look_up(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        ana = ingest(session, order("T-1", clock(), customer={"email": "ana@example.com"}), clock())
        bob = ingest(session, order("T-2", clock(), customer={"card": "2900001234567"}), clock())
        session.execute(
            update(Customer)
            .where(Customer.id == bob.customer_id)
            .values(status="merged", merged_into_id=ana.customer_id)
        )
    email = Identity(IdentityKind.EMAIL, "ana@example.com")
    card = Identity(IdentityKind.CARD, "2900001234567")
    nobody = Identity(IdentityKind.EMAIL, "nobody@example.com")
    with database.read() as session:
        owners, states = repository.owners_with_states(session, [email, card, nobody])
        assert owners == {email: ana.customer_id, card: bob.customer_id}
        assert states == {
            ana.customer_id: ("active", None),
            bob.customer_id: ("merged", ana.customer_id),
        }
        assert repository.owners_with_states(session, []) == ({}, {})
