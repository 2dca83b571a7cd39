from __future__ import annotations

from fidela.platform.table_growth import SMALL_PAGES, TableSize, outgrown


def test_a_table_never_analysed_is_outgrown_once_past_its_first_pages() -> None:
    assert outgrown([TableSize("event", 0, SMALL_PAGES + 1)]) == ["event"]
    assert outgrown([TableSize("event", 0, SMALL_PAGES)]) == []


def test_a_table_is_outgrown_when_it_grew_by_more_than_a_tenth() -> None:
    assert outgrown([TableSize("event", 1_000, 1_101)]) == ["event"]
    assert outgrown([TableSize("event", 1_000, 1_100)]) == []


def test_a_table_that_shrank_or_stayed_keeps_its_statistics() -> None:
    assert outgrown([TableSize("consent", 500, 500), TableSize("customer", 500, 20)]) == []


def test_only_the_grown_tables_are_named_in_the_order_given() -> None:
    tables = [
        TableSize("customer", 100, 100),
        TableSize("event", 100, 400),
        TableSize("sales_order", 0, 50),
    ]
    assert outgrown(tables) == ["event", "sales_order"]
