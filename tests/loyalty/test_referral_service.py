"""Referral persisted: codes, claims from signup events, completion on the first purchase,
fraud holds and their review, limits, and replays that pay nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.customer import merge
from fidela.customer import service as customers
from fidela.customer.rules import CustomerPolicy
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerAccount, LedgerEntry
from fidela.loyalty.referral import service
from fidela.loyalty.referral.models import Referral
from fidela.platform.db import Database
from tests.conftest import T0
from tests.customer.fixtures import WIRING, ingest
from tests.event.builders import order, simple
from tests.ledger.builders import PROGRAMME


def _customer(session: Session, email: str) -> int:
    identities = customers.collect_identities(IdentitiesIn(email=email), CustomerPolicy())
    return customers.create_customer(
        session, fields=ProfileFields(), identities=identities, now=T0
    ).id


def _terms(session: Session, **changes: Any) -> None:
    terms = service.ProgrammeTerms(
        programme=PROGRAMME, referrer_points=500, referee_points=200, **changes
    )
    service.configure_programme(session, terms=terms, expected_version=None, now=T0)


def _referrer(database: Database, **changes: Any) -> tuple[int, str]:
    with database.write() as session:
        _terms(session, **changes)
        referrer = _customer(session, "ana@example.com")
        return referrer, service.code_for(session, customer_id=referrer, now=T0).code


def _sign_up(database: Database, email: str, code: str, at_minutes: int = 0) -> dict[str, Any]:
    with database.write() as session:
        result = ingest(
            session,
            simple(
                "customer.signed_up",
                f"signup-{email}",
                T0,
                {"email": email},
                referral_code=code.lower(),
            ),
            T0 + timedelta(minutes=at_minutes),
        )
        return {"customer_id": result.customer_id, **result.effects}


def _buy(database: Database, customer_id: int, external_id: str, minutes: int = 5) -> Any:
    at = T0 + timedelta(minutes=minutes)
    with database.write() as session:
        return ingest(session, order(external_id, at, customer={"id": customer_id}), at)


def _points(database: Database, customer_id: int) -> int:
    """Points the referral posted to the customer (purchases may earn others)."""
    with database.read() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.points), 0))
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .where(
                    LedgerAccount.customer_id == customer_id,
                    LedgerAccount.programme == PROGRAMME,
                    LedgerEntry.rule == "referral",
                )
            )
            or 0
        )


def _referral(database: Database, referee: int) -> Referral:
    with database.read() as session:
        found = session.scalar(select(Referral).where(Referral.referee_id == referee))
        assert found is not None
        return found


def test_the_first_purchase_pays_both_once_even_when_replayed_under_new_ids(
    database: Database,
) -> None:
    referrer, code = _referrer(database)
    referee = _sign_up(database, "bob@example.org", code)["customer_id"]
    assert _referral(database, referee).status == "claimed"

    first = _buy(database, referee, "T-1")
    _buy(database, referee, "T-1-retry", minutes=6)  # the till retried under a new receipt id
    _buy(database, referee, "T-2", minutes=60)

    assert first.effects["referral_purchase"]["status"] == "rewarded"
    assert (_points(database, referrer), _points(database, referee)) == (500, 200)
    with database.read() as session:
        earns = session.scalar(
            select(func.count()).where(LedgerEntry.kind == "earn", LedgerEntry.rule == "referral")
        )
        assert earns == 2
        assert ledger.verify(session) == []


def test_a_purchase_completes_a_referral_whose_terms_came_after_this_process_saw_none(
    database: Database,
) -> None:
    # Orders with no purchase-triggered programme skip the referral lookup; the terms
    # configured afterwards must be seen by the next order all the same.
    with database.write() as session:
        early = _customer(session, "early@example.org")
    _buy(database, early, "T-0")
    referrer, code = _referrer(database)
    referee = _sign_up(database, "bob@example.org", code)["customer_id"]

    first = _buy(database, referee, "T-1")

    assert first.effects["referral_purchase"]["status"] == "rewarded"
    assert (_points(database, referrer), _points(database, referee)) == (500, 200)


def test_under_the_signup_trigger_the_signup_pays(database: Database) -> None:
    referrer, code = _referrer(database, trigger="signup")
    effects = _sign_up(database, "bob@example.org", code)

    assert effects["referral_signup"]["status"] == "rewarded"
    assert (_points(database, referrer), _points(database, effects["customer_id"])) == (500, 200)


def test_a_self_referral_by_a_similar_email_is_held_until_approved(database: Database) -> None:
    referrer, code = _referrer(database)
    referee = _sign_up(database, "Ana+second@example.com", code)["customer_id"]
    _buy(database, referee, "T-1")

    held = _referral(database, referee)
    assert held.status == "held"
    assert [reason["code"] for reason in held.reasons] == ["self_referral.similar_email"]
    assert (_points(database, referrer), _points(database, referee)) == (0, 0)

    with database.write() as session:
        service.review(session, referral_id=held.id, approve=True, actor="ops", now=T0)
    assert (_points(database, referrer), _points(database, referee)) == (500, 200)
    with database.write() as session, pytest.raises(service.ReferralNotHeld):
        service.review(session, referral_id=held.id, approve=True, actor="ops", now=T0)
    assert _points(database, referrer) == 500


def test_a_signup_naming_the_referrers_own_device_is_a_self_referral(database: Database) -> None:
    with database.write() as session:
        _terms(session, trigger="signup")
        identities = customers.collect_identities(
            IdentitiesIn(email="ana@example.com", device_ids=["dev-77"]), CustomerPolicy()
        )
        referrer = customers.create_customer(
            session, fields=ProfileFields(), identities=identities, now=T0
        ).id
        code = service.code_for(session, customer_id=referrer, now=T0).code
    with database.write() as session:
        ingest(
            session,
            simple("customer.signed_up", "s-1", T0, {"device_ids": ["dev-77"]}, referral_code=code),
            T0,
        )

    held = _referral(database, referrer)
    assert held.status == "held"
    assert held.reasons[0]["code"] == "self_referral.same_customer"
    assert _points(database, referrer) == 0


def test_a_burst_from_one_source_is_held(database: Database) -> None:
    _, code = _referrer(database, trigger="signup", burst_max=2)
    statuses = []
    for n in range(3):
        with database.write() as session:
            referee = _customer(session, f"friend{n}@example.net")
            referral = service.claim(
                session, code=code, referee_id=referee, source="203.0.113.9", now=T0
            )
            session.refresh(referral)
            statuses.append(referral.status)

    assert statuses == ["rewarded", "rewarded", "held"]


def test_past_the_referrer_limit_only_the_referee_is_paid(database: Database) -> None:
    referrer, code = _referrer(database, trigger="signup", max_rewards_per_referrer=1)
    first = _sign_up(database, "bob@example.org", code)
    second = _sign_up(database, "carl@example.org", code)

    assert second["referral_signup"]["status"] == "limit_reached"
    assert _points(database, referrer) == 500
    assert _points(database, first["customer_id"]) == _points(database, second["customer_id"])


def test_an_unknown_code_does_not_reject_the_signup(database: Database) -> None:
    _referrer(database)
    effects = _sign_up(database, "bob@example.org", "NOPE-0000")

    assert effects["referral_signup"] == {"ignored": "referral_code_unknown"}
    assert effects["customer_id"] is not None


def test_the_programme_terms_change_only_from_the_version_read(database: Database) -> None:
    with database.write() as session:
        _terms(session)
        with pytest.raises(service.ReferralVersionConflict):
            _terms(session)
        with pytest.raises(service.ReferralProgrammeInvalid) as raised:
            service.configure_programme(
                session,
                terms=service.ProgrammeTerms(programme=PROGRAMME, trigger="never"),
                expected_version=1,
                now=T0,
            )
    assert {p.pointer for p in raised.value.problems} == {"/trigger", "/referrer_points"}


def test_merging_two_referrers_keeps_one_code_and_moves_the_referrals(database: Database) -> None:
    with database.write() as session:
        _terms(session)
        ana, ana_again, bob = (
            _customer(session, email)
            for email in ("ana@example.com", "ana@work.example", "bob@example.org")
        )
        kept = service.code_for(session, customer_id=ana, now=T0).code
        dropped = service.code_for(session, customer_id=ana_again, now=T0).code
        service.claim(session, code=dropped, referee_id=bob, now=T0)

        merge.merge_customers(
            session,
            survivor_id=ana,
            merged_id=ana_again,
            actor="ops",
            reason="same person",
            now=T0,
            handlers=WIRING.merge_handlers,
        )
        assert service.code_for(session, customer_id=ana, now=T0).code == kept
        with pytest.raises(service.ReferralCodeUnknown):
            service.claim(session, code=dropped, referee_id=ana, now=T0)

    moved = _referral(database, bob)
    assert moved.referrer_id == ana
    assert moved.status == "claimed"
