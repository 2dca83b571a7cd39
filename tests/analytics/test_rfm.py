"""RFM and the per-customer summary: hand-computed answers, the same on every engine."""

from __future__ import annotations

from sqlalchemy import Connection

from fidela.analytics.rfm import rfm_report
from fidela.analytics.rules import parse_as_of
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed, labels

AS_OF = parse_as_of("2026-04-01")


def five_customers() -> Seed:
    seed = Seed()
    for label in "abcde":
        seed.customer(label, "2025-06-01")
    return (
        seed.order("a", "2026-01-10T09:00", 1000)
        .order("a", "2026-03-20T10:00", 3000)
        .order("a", "2026-03-20T18:00", 500)
        .order("b", "2026-02-01T12:00", 2000)
        .order("c", "2026-01-05T08:00", 100)
        .order("c", "2026-02-05T08:00", 100)
        .order("c", "2026-03-05T08:00", 100)
        .order("c", "2026-03-31T23:00", 100)
        .order("d", "2026-03-15T12:00", 10000, channel="web")
        .order("e", "2025-12-01T12:00", 50)
        .order("e", "2026-04-01T00:00", 70)  # at as_of: not counted
    )


def test_customer_summary_counts_purchase_days_like_the_cdnow_convention(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    ids = five_customers().insert(connection)
    _, rows = rfm_report(make_sources(), AS_OF)
    by = labels(ids, rows)
    assert {k: by["a"][k] for k in ("orders", "frequency", "recency", "T", "days_since_last")} == {
        "orders": 3,
        "frequency": 1,
        "recency": 69,
        "T": 81,
        "days_since_last": 12,
    }
    assert by["a"]["monetary_value"] == 3500.0
    assert (by["c"]["frequency"], by["c"]["recency"], by["c"]["T"]) == (3, 85, 86)
    assert by["c"]["monetary_value"] == 100.0
    assert (by["b"]["frequency"], by["b"]["monetary_value"]) == (0, 0.0)
    assert (by["e"]["orders"], by["e"]["total_minor"], by["e"]["days_since_last"]) == (1, 50, 121)


def test_rfm_scores_segments_and_value_tiers_match_the_hand_computed_answer(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    ids = five_customers().insert(connection)
    payload, rows = rfm_report(make_sources(), AS_OF)
    by = labels(ids, rows)
    scores = {label: (row["r"], row["f"], row["m"]) for label, row in by.items()}
    assert scores == {
        "a": (4, 4, 4),
        "b": (2, 1, 3),
        "c": (5, 5, 2),
        "d": (3, 1, 5),
        "e": (1, 1, 1),
    }
    assert {label: row["segment"] for label, row in by.items()} == {
        "a": "loyal",
        "b": "hibernating",
        "c": "champions",
        "d": "need_attention",
        "e": "lost",
    }
    assert {label: row["value_segment"] for label, row in by.items()} == {
        "a": "regular",
        "b": "occasional",
        "c": "regular",
        "d": "vip",
        "e": "occasional",
    }
    assert by["d"]["preferred_channel"] == "web"
    assert by["a"]["preferred_channel"] == "store"
    assert payload["customers"] == 5
    champions = next(s for s in payload["segments"] if s["name"] == "champions")
    assert champions == {
        "name": "champions",
        "customers": 1,
        "share": 0.2,
        "mean_days_since_last": 1.0,
        "mean_orders": 4.0,
        "total_minor": 400,
        "mean_total_minor": 400,
    }


def test_rfm_ties_share_a_score_whatever_the_engine(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    seed = Seed()
    for label in "wxyz":
        seed.customer(label, "2025-06-01").order(label, "2026-03-01T10:00", 500)
    ids = seed.insert(connection)
    _, rows = rfm_report(make_sources(), AS_OF)
    assert {(r["r"], r["f"], r["m"]) for r in rows} == {(1, 1, 1)}
    assert len(labels(ids, rows)) == 4


def test_rfm_of_an_empty_history_is_empty(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    payload, rows = rfm_report(make_sources(), AS_OF)
    assert rows == []
    assert payload["customers"] == 0
    assert all(segment["share"] is None for segment in payload["segments"])
