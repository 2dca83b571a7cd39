"""Buying behaviour against its truth (BG/NBD counts, Gamma-Gamma spend), and order integrity.

Statistical checks compare a sample mean with its expectation within four standard errors
estimated from the same sample: with a few thousand independent customers the central limit
theorem applies, and a correct generator fails such a check about once in 16,000 runs (the
data is deterministic, so a passing seed keeps passing); a wrong rate, a missed dropout or an
off-by-one in the count shifts the mean by far more.
"""

from __future__ import annotations

import datetime
import math
import zoneinfo

import numpy as np
import numpy.typing as npt

from fidela.demo.catalogue import CATEGORY_NAMES, GIFT_CARD_CATEGORY
from fidela.demo.purchases import WELCOME_POINTS
from tests.demo.dataset import MISSING, Dataset, IntArray

FloatArray = npt.NDArray[np.float64]
DAY_US = 86_400_000_000


def _hyp2f1(a: float, b: float, c: float, z: FloatArray) -> FloatArray:
    """Gauss hypergeometric series, summed until terms vanish (|z| < 1 here)."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    for n in range(100_000):
        term = term * (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        if np.all(np.abs(term) <= 1e-14 * np.abs(total)):
            break
    return total


def bgnbd_expected_repeats(t: FloatArray, r: float, alpha: float, a: float, b: float) -> FloatArray:
    """E[X(t)] of BG/NBD (Fader, Hardie & Lee 2005, eq. 9) for exposure ``t``."""
    z = t / (alpha + t)
    hyp = _hyp2f1(r, b, a + b - 1, z)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def _honest(dataset: Dataset) -> npt.NDArray[np.bool_]:
    """Customers outside every fraud case (all their orders are BG/NBD purchases)."""
    honest = np.ones(dataset.config.customers, dtype=np.bool_)
    honest[dataset.fraud_customers()] = False
    return honest


def _order_counts(dataset: Dataset) -> IntArray:
    owner = dataset.customer_positions("orders")
    return np.bincount(owner, minlength=dataset.config.customers).astype(np.int64)


def test_closed_form_matches_a_simulated_expectation() -> None:
    # The test's own yardstick: E[X(t)] against E_lambda,p[(1 - exp(-lambda p t)) / p].
    rng = np.random.default_rng(0)
    lam = rng.gamma(0.8, 1 / 40, 2_000_000)
    p = rng.beta(0.8, 2.5, 2_000_000)
    for t in (30.0, 400.0, 1000.0):
        simulated = ((1 - np.exp(-lam * p * t)) / p).mean()
        closed = bgnbd_expected_repeats(np.array([t]), 0.8, 40.0, 0.8, 2.5)[0]
        assert math.isclose(closed, simulated, rel_tol=0.01)


def test_purchase_counts_follow_the_truth_rates(dataset: Dataset) -> None:
    truth = dataset.config.truth
    buyers = _honest(dataset) & (dataset.micros("truth/customers", "first_purchase_at") != MISSING)
    repeats = (_order_counts(dataset) - 1)[buyers].astype(np.float64)
    lam = dataset.values("truth/customers", "lambda_per_day")[buyers]
    p = dataset.values("truth/customers", "dropout_p")[buyers]
    exposure = dataset.values("truth/customers", "exposure_days")[buyers].astype(np.float64)
    assert buyers.sum() > 2_000
    assert (exposure > 0).all()

    # Given each customer's own lambda and p: E[X | lambda, p, T] = (1 - exp(-lambda p T)) / p.
    conditional = (1 - np.exp(-lam * p * exposure)) / p
    residual = repeats - conditional
    standard_error = residual.std() / math.sqrt(residual.size)
    assert abs(residual.mean()) < 4 * standard_error

    # Over the population: the BG/NBD closed form at each customer's exposure.
    population = bgnbd_expected_repeats(exposure, truth.r, truth.alpha, truth.a, truth.b)
    standard_error = repeats.std() / math.sqrt(repeats.size)
    assert abs(repeats.mean() - population.mean()) < 4 * standard_error

    # Customers with higher rates buy more (quartiles differ about ninefold in theory).
    low, high = np.quantile(lam, [0.25, 0.75])
    assert repeats[lam > high].mean() > 3 * repeats[lam < low].mean()


def test_first_purchase_is_the_earliest_order(dataset: Dataset) -> None:
    owner = dataset.customer_positions("orders")
    ordered = dataset.micros("orders", "ordered_at")
    earliest = np.full(dataset.config.customers, np.iinfo(np.int64).max)
    np.minimum.at(earliest, owner, ordered)
    first = dataset.micros("truth/customers", "first_purchase_at")
    honest = _honest(dataset)
    has_first = honest & (first != MISSING)
    assert (earliest[has_first] == first[has_first]).all()
    assert (_order_counts(dataset)[honest & (first == MISSING)] == 0).all()


def test_dropped_out_customers_stop_buying(dataset: Dataset) -> None:
    owner = dataset.customer_positions("orders")
    ordered = dataset.micros("orders", "ordered_at")
    latest = np.full(dataset.config.customers, MISSING)
    np.maximum.at(latest, owner, ordered)
    dropout = dataset.micros("truth/customers", "dropout_at")
    dropped = _honest(dataset) & (dropout != MISSING)
    assert dropped.sum() > 500
    # The dropout is the time of the purchase after which the customer left: their last.
    assert (latest[dropped] == dropout[dropped]).all()
    alive = dataset.values("truth/customers", "alive_at_end").astype(bool)
    buys = dataset.values("truth/customers", "buys").astype(bool)
    assert (alive == (buys & (dropout == MISSING))).all()


def test_a_share_of_customers_never_buys(dataset: Dataset) -> None:
    buys = dataset.values("truth/customers", "buys").astype(bool)
    honest = _honest(dataset)
    share = 1 - buys[honest].mean()
    expected = dataset.config.truth.never_buy_share
    # Binomial standard error at 3,000 customers is about 0.0065.
    assert abs(share - expected) < 0.03
    assert (_order_counts(dataset)[honest & ~buys] == 0).all()


def test_spend_follows_the_gamma_gamma_truth(dataset: Dataset) -> None:
    owner = dataset.customer_positions("orders")
    counts = _order_counts(dataset)
    subtotal = np.bincount(
        owner, weights=dataset.values("orders", "subtotal_minor"), minlength=counts.size
    )
    frequent = _honest(dataset) & (counts >= 3)
    mean_value = subtotal[frequent] / counts[frequent]
    expected = dataset.values("truth/customers", "expected_order_value_minor")[frequent]
    # Baskets are filled toward each order's Gamma draw: the customer means track p / nu.
    assert np.corrcoef(np.log(mean_value), np.log(expected))[0, 1] > 0.8
    assert 0.9 < np.median(mean_value / expected) < 1.15
    truth = dataset.config.truth
    population_mean = truth.p_spend * truth.gamma / (truth.q - 1)
    assert 0.8 < dataset.values("orders", "subtotal_minor").mean() / population_mean < 1.25


def test_order_lines_reference_existing_orders_and_products(dataset: Dataset) -> None:
    order_number = dataset.numbers("order_lines", "order_id")
    orders = dataset.numbers("orders", "order_id")
    assert (orders == np.arange(1, orders.size + 1)).all()
    assert order_number.min() >= 1
    assert order_number.max() <= orders.size
    product = dataset.numbers("order_lines", "product_id") - 1
    products = dataset.table("products")
    assert product.min() >= 0
    assert product.max() < products.num_rows
    price = dataset.values("products", "price_minor")
    assert (dataset.values("order_lines", "unit_price_minor") == price[product]).all()
    assert (
        dataset.values("order_lines", "sku") == dataset.values("products", "sku")[product]
    ).all()
    category = dataset.values("order_lines", "category")
    assert (category == dataset.values("products", "category")[product]).all()
    quantity = dataset.values("order_lines", "quantity")
    assert (quantity >= 1).all()
    assert (dataset.values("order_lines", "amount_minor") == quantity * price[product]).all()
    # Lines are numbered 1..line_count within each order.
    line_no = dataset.values("order_lines", "line_no")
    line_count = dataset.values("orders", "line_count")
    assert (np.bincount(order_number, minlength=orders.size + 1)[1:] == line_count).all()
    first = np.concatenate(([True], order_number[1:] != order_number[:-1]))
    expected_no = np.arange(line_no.size) - np.maximum.accumulate(
        np.where(first, np.arange(line_no.size), 0)
    )
    assert (line_no == expected_no + 1).all()


def test_order_totals_add_up(dataset: Dataset) -> None:
    n = dataset.table("orders").num_rows
    order = dataset.numbers("order_lines", "order_id") - 1
    amount = dataset.values("order_lines", "amount_minor")
    subtotal = dataset.values("orders", "subtotal_minor")
    shipping = dataset.values("orders", "shipping_minor")
    discount = dataset.values("orders", "discount_minor")
    total = dataset.values("orders", "total_minor")
    points = dataset.values("orders", "points_redeemed")
    assert (np.bincount(order, weights=amount, minlength=n).astype(np.int64) == subtotal).all()
    assert (total == subtotal + shipping - discount).all()
    assert ((discount >= 0) & (discount <= subtotal)).all()
    assert ((points >= 0) & (points <= total)).all()
    channel = dataset.values("orders", "channel")
    store = dataset.values("orders", "store_id")
    assert ((channel == "store") == np.array([s is not None for s in store])).all()
    assert (shipping[channel == "store"] == 0).all()
    assert set(dataset.values("orders", "currency")) == {"EUR"}
    method = dataset.values("orders", "payment_method")
    assert (method[points == 0] == "card").all()
    assert (method[(points > 0) & (points < total)] == "card+points").all()
    assert (method[(points > 0) & (points == total)] == "points").all()
    # A promotion on about one order in eight; points pay part of a few percent of orders.
    assert 0.08 < (discount > 0).mean() < 0.16
    assert 0.01 < (points > 0).mean() < 0.12


def test_points_redeemed_never_exceed_points_earned(dataset: Dataset) -> None:
    n = dataset.table("orders").num_rows
    order = dataset.numbers("order_lines", "order_id") - 1
    earning = dataset.values("order_lines", "category") != CATEGORY_NAMES[GIFT_CARD_CATEGORY]
    eligible = np.bincount(
        order, weights=dataset.values("order_lines", "amount_minor") * earning, minlength=n
    )
    earned = np.maximum(eligible - dataset.values("orders", "discount_minor"), 0) // 100
    redeemed = dataset.values("orders", "points_redeemed")
    owner = dataset.customer_positions("orders")
    ordered = dataset.micros("orders", "ordered_at")
    sequence = np.lexsort((ordered, owner))
    owner, earned, redeemed = owner[sequence], earned[sequence], redeemed[sequence]
    # At each order, points redeemed so far (this one included) are covered by the welcome
    # bonus and the points earned by earlier orders (an order's points come after payment).
    start = np.concatenate(([True], owner[1:] != owner[:-1]))
    first_row = np.maximum.accumulate(np.where(start, np.arange(owner.size), 0))
    earned_before = np.cumsum(earned) - earned
    redeemed_through = np.cumsum(redeemed)
    earned_so_far = earned_before - earned_before[first_row]
    redeemed_so_far = redeemed_through - (redeemed_through - redeemed)[first_row]
    assert (redeemed_so_far <= WELCOME_POINTS + earned_so_far).all()
    assert redeemed.sum() > 0


def test_returns_never_exceed_bought_quantity_and_follow_their_order(dataset: Dataset) -> None:
    line_key = dataset.numbers("order_lines", "order_id") * 100 + dataset.values(
        "order_lines", "line_no"
    )
    return_key = dataset.numbers("returns", "order_id") * 100 + dataset.values("returns", "line_no")
    assert np.unique(return_key).size == return_key.size  # a line is returned at most once
    line = np.searchsorted(line_key, return_key)
    assert (line_key[line] == return_key).all()
    quantity = dataset.values("returns", "quantity")
    assert ((quantity >= 1) & (quantity <= dataset.values("order_lines", "quantity")[line])).all()
    unit = dataset.values("order_lines", "unit_price_minor")[line]
    assert (dataset.values("returns", "amount_minor") == unit * quantity).all()
    order = dataset.numbers("returns", "order_id") - 1
    ordered = dataset.micros("orders", "ordered_at")[order]
    returned = dataset.micros("returns", "returned_at")
    assert (returned > ordered).all()
    assert (returned <= ordered + 30 * DAY_US).all()
    assert (returned < dataset.end_us).all()
    order_customer = dataset.values("orders", "customer_id")[order]
    assert (dataset.values("returns", "customer_id") == order_customer).all()
    share = np.unique(order).size / dataset.table("orders").num_rows
    assert 0.04 < share < 0.11
    # Fit-sensitive categories come back more often.
    category = dataset.values("order_lines", "category")
    returned_line = np.zeros(line_key.size, dtype=bool)
    returned_line[line] = True
    sized = np.isin(category, ["fashion", "shoes"])
    other = np.isin(category, ["books", "grocery", "beauty", "home"])
    assert returned_line[sized].mean() > 2 * returned_line[other].mean()


def test_seasonality_lifts_the_christmas_season(dataset: Dataset) -> None:
    assert dataset.config.end == datetime.date(2026, 10, 31)
    honest = _honest(dataset)[dataset.customer_positions("orders")]
    day = (dataset.micros("orders", "ordered_at")[honest] // DAY_US).astype("datetime64[D]")

    def daily_rate(first: str, last: str) -> float:
        inside = (day >= np.datetime64(first)) & (day <= np.datetime64(last))
        days = (np.datetime64(last) - np.datetime64(first)).astype(int) + 1
        return float(inside.sum() / days)

    # October and February bracket December, so the growing customer base cancels out; the
    # season factor is 1.5 from 1 to 23 December and 1.0 in October and February.
    december = daily_rate("2025-12-01", "2025-12-23")
    around = (daily_rate("2025-10-01", "2025-10-31") + daily_rate("2026-02-01", "2026-02-28")) / 2
    assert december > 1.25 * around


def test_store_orders_happen_in_opening_hours(dataset: Dataset) -> None:
    store = dataset.numbers("orders", "store_id") - 1
    in_store = store >= 0
    zones = dataset.values("stores", "timezone")[store[in_store]]
    times = dataset.micros("orders", "ordered_at")[in_store]
    hours = [
        datetime.datetime.fromtimestamp(t / 1e6, tz=zoneinfo.ZoneInfo(z)).hour
        for t, z in zip(times[:3_000], zones[:3_000], strict=True)
    ]
    assert all(8 <= h < 21 for h in hours)
    saturday = [
        datetime.datetime.fromtimestamp(t / 1e6, tz=zoneinfo.ZoneInfo(z)).weekday() == 5
        for t, z in zip(times[:3_000], zones[:3_000], strict=True)
    ]
    assert np.mean(saturday) > 1.2 / 7
