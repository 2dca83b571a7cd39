"""Stores and products of the demo retailer, and the price lookup baskets are filled from.

The catalogue depends on the seed only (not on the number of customers), so two runs of
different sizes sell the same products. Prices are lognormal per category, rounded to ".99"
price points; costs leave a 25-65 % margin. Gift cards are a product of their own category that
earns no points (`earns_points`), as loyalty programmes usually exclude them.

Products are searched by (category, price): `Catalogue.nearest` returns, for a category and a
target line value, the product whose price is closest, which is how baskets track their target
order value (see `purchases`).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fidela.demo.segments import BoolArray, FloatArray, IntArray
from fidela.demo.streams import catalogue_rng
from fidela.demo.vocabulary import (
    CITIES,
    PRODUCT_ADJECTIVES,
    PRODUCT_BRANDS,
    PRODUCT_NOUNS,
)

CURRENCY = "EUR"


@dataclass(frozen=True)
class Category:
    """A product category: price model, catalogue share, return and shopping propensities."""

    name: str
    code: str
    median_minor: int  # median shelf price, EUR cents
    sigma: float  # lognormal sigma of shelf prices
    products: int  # number of products in the catalogue
    popularity: float  # base weight in customers' category preferences
    return_rate: float  # probability that a bought line is (partly) returned
    max_quantity: int  # most units of one product in a line


CATEGORIES: tuple[Category, ...] = (
    Category("fashion", "FSH", 3_500, 0.6, 180, 1.4, 0.062, 3),
    Category("beauty", "BTY", 1_800, 0.6, 120, 1.1, 0.012, 4),
    Category("home", "HOM", 3_000, 0.8, 110, 0.8, 0.02, 3),
    Category("grocery", "GRC", 450, 0.6, 140, 1.6, 0.003, 12),
    Category("electronics", "ELC", 9_000, 1.0, 90, 0.6, 0.03, 2),
    Category("books", "BOK", 1_500, 0.4, 120, 0.8, 0.01, 3),
    Category("sports", "SPT", 3_500, 0.8, 90, 0.6, 0.025, 3),
    Category("toys", "TOY", 2_500, 0.7, 80, 0.6, 0.02, 3),
    Category("shoes", "SHO", 7_000, 0.5, 90, 0.8, 0.075, 2),
    Category("accessories", "ACC", 2_500, 0.7, 80, 0.7, 0.03, 3),
    Category("kitchen", "KIT", 2_800, 0.8, 80, 0.6, 0.02, 3),
    Category("garden", "GRD", 3_000, 0.8, 60, 0.4, 0.015, 3),
)
GIFT_CARD_VALUES: tuple[int, ...] = (1_000, 2_500, 5_000, 10_000)
GIFT_CARD = Category("gift_card", "GFT", 5_000, 0.0, len(GIFT_CARD_VALUES), 0.0, 0.0, 1)
ALL_CATEGORIES: tuple[Category, ...] = (*CATEGORIES, GIFT_CARD)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in ALL_CATEGORIES)
GIFT_CARD_CATEGORY = len(CATEGORIES)  # index of the gift card category

_DISTRICTS = ("Centre", "Gare", "Nord", "Sud", "Rive Gauche", "Les Halles")
_DISTRICTS_EN = ("Central", "Station", "North", "South", "Riverside", "Market")


@dataclass(frozen=True)
class Catalogue:
    """Stores and products as arrays (index = id number - 1) plus the price search index."""

    product_category: IntArray
    product_price: IntArray
    product_cost: IntArray
    product_earns: BoolArray
    product_names: tuple[str, ...]
    product_brands: tuple[str, ...]
    product_skus: tuple[str, ...]
    # Products sorted by (category, price): search key and the product at each sorted position.
    sorted_key: FloatArray
    sorted_product: IntArray
    category_bounds: IntArray  # sorted positions [start, end) of each category
    store_city: IntArray
    store_names: tuple[str, ...]
    store_opened: IntArray  # days since epoch
    stores_by_city: tuple[IntArray, ...]  # stores of each city (may be empty)
    stores_by_timezone: dict[str, IntArray]

    @property
    def n_products(self) -> int:
        return int(self.product_price.size)

    @property
    def n_stores(self) -> int:
        return int(self.store_city.size)

    def nearest(self, category: IntArray, target: FloatArray) -> IntArray:
        """The product of ``category`` whose price is nearest to ``target`` cents."""
        key = category * _KEY_SPAN + np.clip(target, 0.0, _KEY_SPAN - 1)
        lo = self.category_bounds[category]
        hi = self.category_bounds[category + 1] - 1
        right = np.clip(np.searchsorted(self.sorted_key, key), lo, hi)
        left = np.clip(right - 1, lo, hi)
        closer_left = np.abs(self.sorted_key[left] - key) < np.abs(self.sorted_key[right] - key)
        return self.sorted_product[np.where(closer_left, left, right)]

    def stores_table(self) -> pa.Table:
        return pa.table(
            {
                "store_id": [f"ST{i + 1:03d}" for i in range(self.n_stores)],
                "name": list(self.store_names),
                "city": [CITIES[c].name for c in self.store_city],
                "country": [CITIES[c].country for c in self.store_city],
                "timezone": [CITIES[c].timezone for c in self.store_city],
                "opened_on": pa.array(self.store_opened.astype(np.int32), type=pa.date32()),
            }
        )

    def products_table(self) -> pa.Table:
        return pa.table(
            {
                "product_id": [f"P{i + 1:05d}" for i in range(self.n_products)],
                "sku": list(self.product_skus),
                "name": list(self.product_names),
                "category": [CATEGORY_NAMES[c] for c in self.product_category],
                "brand": list(self.product_brands),
                "price_minor": pa.array(self.product_price, type=pa.int64()),
                "cost_minor": pa.array(self.product_cost, type=pa.int64()),
                "currency": [CURRENCY] * self.n_products,
                "earns_points": pa.array(self.product_earns, type=pa.bool_()),
            }
        )


_KEY_SPAN = 1e9  # larger than any price in cents: keeps categories apart in the search key


def _price_point(raw: float) -> int:
    """Round a raw price to a shelf price point: x.99 above 10 EUR, x.x9 below."""
    if raw >= 1_000:
        return max(199, round(raw / 100.0) * 100 - 1)
    return max(49, round(raw / 10.0) * 10 - 1)


def build_catalogue(seed: int, window_start: datetime.date) -> Catalogue:
    """Products and stores for ``seed``; every store opened before ``window_start``."""
    rng = catalogue_rng(seed)
    categories: list[int] = []
    prices: list[int] = []
    names: list[str] = []
    brands: list[str] = []
    skus: list[str] = []
    for c, category in enumerate(CATEGORIES):
        raw = rng.lognormal(math.log(category.median_minor), category.sigma, category.products)
        brand_pick = rng.integers(0, len(PRODUCT_BRANDS[category.name]), category.products)
        noun_pick = rng.integers(0, len(PRODUCT_NOUNS[category.name]), category.products)
        adjective_pick = rng.integers(0, len(PRODUCT_ADJECTIVES), category.products)
        for k in range(category.products):
            brand = PRODUCT_BRANDS[category.name][brand_pick[k]]
            noun = PRODUCT_NOUNS[category.name][noun_pick[k]]
            categories.append(c)
            prices.append(_price_point(float(raw[k])))
            names.append(f"{PRODUCT_ADJECTIVES[adjective_pick[k]]} {noun}")
            brands.append(brand)
            skus.append(f"{category.code}-{k + 1:05d}")
    for k, value in enumerate(GIFT_CARD_VALUES):
        categories.append(GIFT_CARD_CATEGORY)
        prices.append(value)
        names.append(f"Gift Card {value // 100} EUR")
        brands.append(PRODUCT_BRANDS[GIFT_CARD.name][0])
        skus.append(f"{GIFT_CARD.code}-{k + 1:05d}")
    price = np.array(prices, dtype=np.int64)
    category_arr = np.array(categories, dtype=np.int64)
    margin = rng.uniform(0.25, 0.65, price.size)
    cost = np.rint(price * (1.0 - margin)).astype(np.int64)
    gift = category_arr == GIFT_CARD_CATEGORY
    cost[gift] = price[gift]  # a gift card is sold at face value: no margin
    key = category_arr * _KEY_SPAN + price
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(len(ALL_CATEGORIES) + 1) * _KEY_SPAN)

    store_city: list[int] = []
    store_names: list[str] = []
    for c, city in enumerate(CITIES):
        districts = _DISTRICTS if city.country == "FR" or city.french_share > 0.5 else _DISTRICTS_EN
        for k in range(city.stores):
            store_city.append(c)
            suffix = f" {districts[k]}" if city.stores > 1 else ""
            store_names.append(f"Fidela Demo {city.name}{suffix}")
    epoch = datetime.date(1970, 1, 1)
    first_day = (datetime.date(2008, 1, 1) - epoch).days
    last_day = (window_start - epoch).days - 60
    opened = rng.integers(first_day, max(first_day + 1, last_day), len(store_city))
    city_arr = np.array(store_city, dtype=np.int64)
    by_city = tuple(np.flatnonzero(city_arr == c).astype(np.int64) for c in range(len(CITIES)))
    zones = sorted({city.timezone for city in CITIES})
    by_timezone = {
        zone: np.flatnonzero(np.array([CITIES[c].timezone == zone for c in store_city])).astype(
            np.int64
        )
        for zone in zones
    }
    empty = [zone for zone, stores in by_timezone.items() if stores.size == 0]
    if empty:  # customers shop in stores of their own time zone: every zone needs one
        raise ValueError(f"no store in time zone(s) {empty}")
    return Catalogue(
        product_category=category_arr,
        product_price=price,
        product_cost=cost,
        product_earns=~gift,
        product_names=tuple(names),
        product_brands=tuple(brands),
        product_skus=tuple(skus),
        sorted_key=key[order].astype(np.float64),
        sorted_product=order.astype(np.int64),
        category_bounds=bounds.astype(np.int64),
        store_city=city_arr,
        store_names=tuple(store_names),
        store_opened=opened.astype(np.int64),
        stores_by_city=by_city,
        stores_by_timezone=by_timezone,
    )
