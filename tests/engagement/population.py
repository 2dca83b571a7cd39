"""Many customers with an email address, inserted in bulk (delivery tests at scale)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fidela.customer.models import Customer, CustomerIdentity
from fidela.platform.bulk import insert_rows
from fidela.platform.db import table_of


def customers_with_email(session: Session, count: int, now: datetime, tag: str) -> list[int]:
    rows = [
        {
            "status": "active",
            "first_name": f"Client{i}",
            "language": "fr",
            "tags": {},
            "attributes": {},
            "profiling_restricted": False,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(count)
    ]
    ids = [int(r[0]) for r in insert_rows(session, table_of(Customer), rows, returning=("id",))]
    insert_rows(
        session,
        table_of(CustomerIdentity),
        [
            {
                "customer_id": c,
                "kind": "email",
                "namespace": "",
                "value": f"{tag}{c}@example.com",
                "verified": True,
                "created_at": now,
            }
            for c in ids
        ],
    )
    return ids
