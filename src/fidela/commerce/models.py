"""Orders, order lines and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class SalesOrder(Base):
    __tablename__ = "sales_order"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_with_points_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(32), default="completed")
    payments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_sales_order_customer_id_ordered_at", "customer_id", "ordered_at"),
        Index("ix_sales_order_ordered_at", "ordered_at"),
        # The retention job deletes raw events: the orders naming them are found here.
        Index("ix_sales_order_event_id", "event_id"),
    )


class SalesOrderLine(Base):
    __tablename__ = "sales_order_line"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("sales_order.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    returned_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("order_id", "line_no"),)


class SalesReturn(Base):
    __tablename__ = "sales_return"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("sales_order.id"))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refund_method: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lines: Mapped[list[dict[str, int]]] = mapped_column(JSONDocument, default=list)
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_sales_return_order_id", "order_id"),
        Index("ix_sales_return_event_id", "event_id"),
        Index("ix_sales_return_customer_id", "customer_id"),
    )
