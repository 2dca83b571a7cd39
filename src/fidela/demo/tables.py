"""Output tables: their schemas, id formats, and the conversion of block frames to Arrow.

Every table is declared once here (`TABLES`), column by column, in output order. A block builds
frames whose reference columns hold block-local row numbers; `to_arrow` adds the running offset
of each counted id kind (orders, sessions...) and formats ids as a prefix and zero-padded
number (``O000000012``). Ids are 1-based and follow block order, which is customer order, so
they do not depend on chunking.

Types: ids and text are strings, money ``*_minor`` and points int64, timestamps
``timestamp[us, tz=UTC]``, dates ``date32``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fidela.demo.catalogue import CATEGORY_NAMES, CURRENCY
from fidela.demo.customers import CONSENTS, COUNTRIES, FIRST_NAME_WORDS, LAST_NAME_WORDS
from fidela.demo.feedback import COMMENT_TEXTS, REVIEW_BODY_TEXTS, REVIEW_TITLE_TEXTS
from fidela.demo.frames import Frame, size
from fidela.demo.seasonality import Calendar
from fidela.demo.segments import IntArray
from fidela.demo.text import prefixed
from fidela.demo.vocabulary import (
    CITIES,
    FRAUD_PATTERNS,
    GENDERS,
    LANGUAGES,
    ORDER_CHANNELS,
    PAYMENT_METHODS,
    PREFERRED_CHANNELS,
    RETURN_REASONS,
    SENTIMENTS,
    SIGNUP_CHANNELS,
    SOCIAL_NETWORKS,
    SUPPORT_CHANNELS,
    SUPPORT_TOPICS,
    SURVEYS,
    TIMEZONES,
)


@dataclass(frozen=True)
class IdKind:
    """How ids of one entity look. ``counted`` ids number rows across blocks with a running
    counter; the others are a global index (customers, stores, products, campaigns)."""

    name: str
    prefix: str
    width: int
    counted: bool

    def format(self, numbers: IntArray) -> pa.Array:
        """Ids of 1-based ``numbers`` (null where a number is below 1)."""
        missing = numbers < 1
        mask = pa.array(missing) if missing.any() else None
        if numbers.size and numbers.max() >= 10**self.width:
            # Past the padded width ids simply grow (C10000000): the rare, slower path.
            text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=self.width, padding="0")
            ids = pc.binary_join_element_wise(self.prefix, text, "")
        else:
            ids = prefixed(self.prefix, np.maximum(numbers, 0), self.width)
        if mask is not None:
            ids = pc.if_else(mask, pa.scalar(None, type=pa.string()), ids)
        return ids

    def one(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"


CUSTOMER = IdKind("customer", "C", 7, counted=False)
STORE = IdKind("store", "ST", 3, counted=False)
PRODUCT = IdKind("product", "P", 5, counted=False)
CAMPAIGN = IdKind("campaign", "CP", 5, counted=False)
ORDER = IdKind("order", "O", 9, counted=True)
RETURN = IdKind("return", "RT", 8, counted=True)
SESSION = IdKind("session", "SE", 9, counted=True)
MESSAGE = IdKind("message", "MS", 10, counted=True)
INTERACTION = IdKind("interaction", "SU", 8, counted=True)
ANSWER = IdKind("answer", "SA", 8, counted=True)
REVIEW = IdKind("review", "RV", 8, counted=True)
SHARE = IdKind("share", "SH", 8, counted=True)
REFERRAL = IdKind("referral", "RF", 8, counted=True)
FRAUD = IdKind("fraud", "FR", 6, counted=True)
ID_KINDS: dict[str, IdKind] = {
    k.name: k
    for k in (
        CUSTOMER, STORE, PRODUCT, CAMPAIGN, ORDER, RETURN, SESSION, MESSAGE, INTERACTION,
        ANSWER, REVIEW, SHARE, REFERRAL, FRAUD,
    )
}  # fmt: skip

ROW = "@row"  # source of an own-id column: the row number within the block


@dataclass(frozen=True)
class Column:
    """One output column. ``kind``: id, ts, date, int, float, bool, cat (index into
    ``values``), const (``values[0]`` on every row) or arrow (a prebuilt array)."""

    name: str
    kind: str
    source: str = ""
    ids: IdKind | None = None
    values: tuple[str, ...] = ()
    repetitive: bool = False  # an "arrow" column with few distinct values

    @property
    def key(self) -> str:
        return self.source or self.name

    @property
    def dictionary(self) -> bool:
        """Whether Parquet should dictionary-encode the column: only for columns with few
        distinct values (unique ids and timestamps get bigger and slower with a dictionary)."""
        if self.kind in {"cat", "const"}:
            return True
        if self.kind == "id" and self.ids is not None:
            return self.ids.name in {"store", "product", "campaign"}
        return self.repetitive

    @property
    def arrow_type(self) -> pa.DataType:
        return {
            "id": pa.string(),
            "ts": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
            "cat": pa.string(),
            "const": pa.string(),
            "arrow": pa.string(),
        }[self.kind]


@dataclass(frozen=True)
class TableSpec:
    """An output table: its path under the output directory (no suffix) and columns."""

    name: str
    own: IdKind | None
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    @property
    def dictionary_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.dictionary]


def _id(name: str, ids: IdKind, source: str = "") -> Column:
    return Column(name, "id", source, ids)


def _cat(name: str, values: tuple[str, ...], source: str = "") -> Column:
    return Column(name, "cat", source, values=values)


_CITY_NAMES = tuple(c.name for c in CITIES)
_CURRENCY = Column("currency", "const", values=(CURRENCY,))

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "customers",
        None,
        (
            _id("customer_id", CUSTOMER, "customer"),
            _cat("first_name", FIRST_NAME_WORDS),
            _cat("last_name", LAST_NAME_WORDS),
            Column("email", "arrow"),
            Column("phone", "arrow"),
            Column("loyalty_card", "arrow"),
            _cat("gender", GENDERS),
            Column("birth_date", "date"),
            _cat("city", _CITY_NAMES),
            _cat("country", COUNTRIES),
            _cat("language", LANGUAGES),
            _cat("timezone", TIMEZONES),
            Column("signup_at", "ts"),
            _cat("signup_channel", SIGNUP_CHANNELS),
            _cat("preferred_channel", PREFERRED_CHANNELS),
            Column("device_id", "arrow"),
            *(Column(name, "bool") for name in CONSENTS),
            Column("interests", "arrow", repetitive=True),
        ),
    ),
    TableSpec(
        "orders",
        ORDER,
        (
            _id("order_id", ORDER, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            Column("ordered_at", "ts", "hours"),
            _cat("channel", ORDER_CHANNELS),
            _id("store_id", STORE, "store"),
            _CURRENCY,
            Column("subtotal_minor", "int", "subtotal"),
            Column("shipping_minor", "int", "shipping"),
            Column("discount_minor", "int", "discount"),
            Column("total_minor", "int", "total"),
            Column("points_redeemed", "int", "points"),
            _cat("payment_method", PAYMENT_METHODS, "payment"),
            Column("line_count", "int"),
        ),
    ),
    TableSpec(
        "order_lines",
        None,
        (
            _id("order_id", ORDER, "order"),
            Column("line_no", "int"),
            _id("product_id", PRODUCT, "product"),
            Column("sku", "arrow", repetitive=True),
            _cat("category", CATEGORY_NAMES),
            Column("quantity", "int"),
            Column("unit_price_minor", "int", "unit_price"),
            Column("amount_minor", "int", "amount"),
        ),
    ),
    TableSpec(
        "returns",
        RETURN,
        (
            _id("return_id", RETURN, ROW),
            _id("order_id", ORDER, "order"),
            _id("customer_id", CUSTOMER, "customer"),
            Column("returned_at", "ts", "hours"),
            Column("line_no", "int"),
            Column("quantity", "int"),
            Column("amount_minor", "int", "amount"),
            _cat("reason", RETURN_REASONS),
        ),
    ),
    TableSpec(
        "sessions",
        SESSION,
        (
            _id("session_id", SESSION, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            _cat("channel", ORDER_CHANNELS),
            Column("device_id", "arrow"),
            Column("started_at", "ts", "start"),
            Column("ended_at", "ts", "end"),
            Column("page_views", "int"),
            Column("cart_adds", "int"),
            Column("login", "bool"),
            Column("abandoned_cart", "bool", "abandoned"),
            Column("cart_value_minor", "int", "cart_value"),
            _id("converted_order_id", ORDER, "order"),
        ),
    ),
    TableSpec(
        "email_events",
        MESSAGE,
        (
            _id("message_id", MESSAGE, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            _id("campaign_id", CAMPAIGN, "campaign"),
            Column("sent_at", "ts", "sent"),
            Column("opened_at", "ts", "opened"),
            Column("clicked_at", "ts", "clicked"),
            Column("unsubscribed_at", "ts", "unsubscribed"),
        ),
    ),
    TableSpec(
        "support_interactions",
        INTERACTION,
        (
            _id("interaction_id", INTERACTION, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            Column("occurred_at", "ts", "hours"),
            _cat("channel", SUPPORT_CHANNELS),
            _cat("topic", SUPPORT_TOPICS),
            Column("complaint", "bool"),
            Column("response_time_minutes", "int", "response_minutes"),
            Column("resolved", "bool"),
        ),
    ),
    TableSpec(
        "survey_answers",
        ANSWER,
        (
            _id("answer_id", ANSWER, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            Column("answered_at", "ts", "hours"),
            _cat("survey", SURVEYS),
            Column("score", "int"),
            _cat("comment", COMMENT_TEXTS),
            _cat("language", LANGUAGES),
            _cat("sentiment", SENTIMENTS),
        ),
    ),
    TableSpec(
        "reviews",
        REVIEW,
        (
            _id("review_id", REVIEW, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            _id("product_id", PRODUCT, "product"),
            _id("order_id", ORDER, "order"),
            Column("posted_at", "ts", "hours"),
            Column("rating", "int"),
            _cat("title", REVIEW_TITLE_TEXTS),
            _cat("body", REVIEW_BODY_TEXTS),
            _cat("language", LANGUAGES),
        ),
    ),
    TableSpec(
        "social_shares",
        SHARE,
        (
            _id("share_id", SHARE, ROW),
            _id("customer_id", CUSTOMER, "customer"),
            _cat("network", SOCIAL_NETWORKS),
            _id("product_id", PRODUCT, "product"),
            Column("shared_at", "ts", "hours"),
        ),
    ),
    TableSpec(
        "referrals",
        REFERRAL,
        (
            _id("referral_id", REFERRAL, ROW),
            _id("referrer_id", CUSTOMER, "referrer"),
            _id("referee_id", CUSTOMER, "referee"),
            Column("code", "arrow"),
            Column("created_at", "ts", "hours"),
            Column("signed_up_at", "ts", "signed_up"),
            _id("first_order_id", ORDER, "first_order"),
        ),
    ),
    TableSpec(
        "truth/customers",
        None,
        (
            _id("customer_id", CUSTOMER, "customer"),
            Column("lambda_per_day", "float", "lam"),
            Column("dropout_p", "float", "p"),
            Column("nu", "float"),
            Column("buys", "bool"),
            Column("first_purchase_at", "ts", "first"),
            Column("dropout_at", "ts", "dropout"),
            Column("alive_at_end", "bool", "alive"),
            Column("expected_order_value_minor", "int", "expected_value"),
            Column("exposure_days", "float", "exposure"),
        ),
    ),
    TableSpec(
        "truth/fraud",
        FRAUD,
        (
            _id("fraud_id", FRAUD, ROW),
            _cat("pattern", FRAUD_PATTERNS),
            _id("customer_id", CUSTOMER, "customer"),
            Column("related_ids", "arrow"),
            Column("started_at", "ts", "hours"),
            Column("description", "arrow"),
        ),
    ),
)
TABLE_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}


@functools.cache
def _dictionary(values: tuple[str, ...]) -> pa.Array:
    return pa.array(values, type=pa.string())


def to_arrow(
    spec: TableSpec,
    frame: Frame,
    prebuilt: dict[str, pa.Array],
    offsets: dict[str, int],
    calendar: Calendar,
) -> pa.Table:
    """The Arrow table of one block's ``frame`` (ids shifted by the running ``offsets``)."""
    n = size(frame) if frame else len(next(iter(prebuilt.values()), []))
    arrays: list[pa.Array] = []
    for column in spec.columns:
        arrays.append(_column(column, frame, prebuilt, offsets, calendar, n))
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def _column(
    column: Column,
    frame: Frame,
    prebuilt: dict[str, pa.Array],
    offsets: dict[str, int],
    calendar: Calendar,
    n: int,
) -> pa.Array:
    kind = column.kind
    if kind == "arrow":
        return prebuilt[column.key]
    if kind == "const":
        return pa.repeat(pa.scalar(column.values[0]), n)
    if kind == "id":
        ids = column.ids
        if ids is None:
            raise ValueError(f"column {column.name} has no id kind")
        if column.key == ROW:
            values = np.arange(n, dtype=np.int64)
        else:
            values = frame[column.key].astype(np.int64)
        # Frames hold 0-based numbers (-1: null); ids are 1-based.
        shift = offsets.get(ids.name, 0) if ids.counted else 0
        numbers = np.where(values >= 0, values + shift + 1, 0)
        return ids.format(numbers)
    values = frame[column.key]
    if kind == "ts":
        missing = np.isnan(values)
        micros = calendar.micros(np.where(missing, 0.0, values))
        return pa.array(micros, type=column.arrow_type, mask=missing if missing.any() else None)
    if kind == "date":
        return pa.array(values.astype(np.int32), type=pa.date32())
    if kind == "cat":
        indices = values.astype(np.int64)
        missing = indices < 0
        return _dictionary(column.values).take(
            pa.array(indices, mask=missing if missing.any() else None)
        )
    if kind == "float":
        missing = np.isnan(values)
        return pa.array(values, type=pa.float64(), mask=missing if missing.any() else None)
    return pa.array(values, type=column.arrow_type)
