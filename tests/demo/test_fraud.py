"""Injected fraud: labelled rows point at rows that exist and that look like their pattern."""

from __future__ import annotations

import numpy as np

from tests.demo.dataset import Dataset

MINUTE_US = 60_000_000


def _related(dataset: Dataset, pattern: str) -> list[tuple[int, list[str]]]:
    patterns = dataset.values("truth/fraud", "pattern")
    customers = dataset.customer_positions("truth/fraud")
    related = dataset.values("truth/fraud", "related_ids")
    return [
        (int(c), str(r).split(";") if r else [])
        for p, c, r in zip(patterns, customers, related, strict=True)
        if p == pattern
    ]


def test_fraud_truth_rows_exist_in_main_tables(dataset: Dataset) -> None:
    fraud = dataset.table("truth/fraud")
    assert set(dataset.values("truth/fraud", "pattern")) == {
        "points_farming",
        "self_referral_ring",
        "account_takeover",
    }
    share = np.unique(dataset.customer_positions("truth/fraud")).size / dataset.config.customers
    assert 0.01 < share < 0.03  # the fixture asks for 2 %
    known = {
        "O": set(dataset.values("orders", "order_id")),
        "SE": set(dataset.values("sessions", "session_id")),
        "RF": set(dataset.values("referrals", "referral_id")),
    }
    for related in dataset.values("truth/fraud", "related_ids"):
        ids = str(related).split(";")
        assert ids
        for item in ids:
            prefix = item.rstrip("0123456789")
            assert item in known[prefix], item
    assert fraud.num_rows == np.unique(dataset.values("truth/fraud", "fraud_id")).size


def test_points_farming_is_bursts_of_tiny_orders_mostly_returned(dataset: Dataset) -> None:
    order_ids = dataset.values("orders", "order_id")
    position = {oid: k for k, oid in enumerate(order_ids)}
    returned = set(dataset.values("returns", "order_id"))
    order_customer = dataset.customer_positions("orders")
    cases = _related(dataset, "points_farming")
    assert cases
    for customer, ids in cases:
        orders = np.array([position[i] for i in ids if i.startswith("O")])
        assert orders.size >= 12
        assert (order_customer[orders] == customer).all()
        assert (dataset.values("orders", "subtotal_minor")[orders] < 1_000).all()
        assert (dataset.values("orders", "line_count")[orders] == 1).all()
        times = dataset.micros("orders", "ordered_at")[orders]
        assert times.max() - times.min() <= 72 * 60 * MINUTE_US
        share_returned = np.mean([order_ids[o] in returned for o in orders])
        assert share_returned > 0.3


def test_referral_rings_share_a_device_and_refer_each_other(dataset: Dataset) -> None:
    referral_ids = dataset.values("referrals", "referral_id")
    position = {rid: k for k, rid in enumerate(referral_ids)}
    referrer = dataset.customer_positions("referrals", "referrer_id")
    referee = dataset.customer_positions("referrals", "referee_id")
    device = dataset.values("customers", "device_id")
    signup = dataset.micros("customers", "signup_at")
    cases = _related(dataset, "self_referral_ring")
    assert cases
    rings = 0
    for _, ids in cases:
        rows = [position[i] for i in ids if i.startswith("RF")]
        if len(rows) < 2:
            continue  # a member's row lists its own referral; the leader's lists the ring's
        rings += 1
        members = np.unique(np.concatenate((referrer[rows], referee[rows])))
        assert members.size >= 3
        assert len({device[m] for m in members}) == 1
        assert device[members[0]] is not None
        assert signup[members].max() - signup[members].min() < 12 * 60 * MINUTE_US
    assert rings >= 2


def test_account_takeover_is_new_device_logins_then_points_orders(dataset: Dataset) -> None:
    orders = {oid: k for k, oid in enumerate(dataset.values("orders", "order_id"))}
    sessions = {sid: k for k, sid in enumerate(dataset.values("sessions", "session_id"))}
    session_device = dataset.values("sessions", "device_id")
    customer_device = dataset.values("customers", "device_id")
    cases = _related(dataset, "account_takeover")
    assert cases
    for customer, ids in cases:
        session_rows = [sessions[i] for i in ids if i.startswith("SE")]
        order_rows = [orders[i] for i in ids if i.startswith("O")]
        assert len(session_rows) >= 3
        assert order_rows
        attacker = {session_device[s] for s in session_rows}
        assert len(attacker) == 1
        assert attacker != {customer_device[customer]}
        assert dataset.values("sessions", "login")[session_rows].all()
        assert (
            dataset.values("orders", "points_redeemed")[order_rows]
            == dataset.values("orders", "total_minor")[order_rows]
        ).all()
        assert set(dataset.values("orders", "payment_method")[order_rows]) == {"points"}
        first_login = dataset.micros("sessions", "started_at")[session_rows].min()
        last_order = dataset.micros("orders", "ordered_at")[order_rows].max()
        assert last_order - first_login < 60 * MINUTE_US
        # The victim's own earlier orders stopped at least two weeks before the attack.
        own = np.flatnonzero(dataset.customer_positions("orders") == customer)
        earlier = np.setdiff1d(own, order_rows)
        assert dataset.micros("orders", "ordered_at")[earlier].max() < first_login - 14 * 1440 * (
            MINUTE_US
        )
