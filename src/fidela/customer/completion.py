"""Completing many profiles at once: a value from a file fills a column (or a custom
attribute) the profile lacks and never overwrites one it has (`rules.fill_missing`, the rule
merges follow too)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.rules import fill_missing
from fidela.customer.service import PROFILE_COLUMNS

ATTRIBUTES = "attributes"


def complete_profiles(
    session: Session, completions: Sequence[tuple[int, dict[str, Any]]], *, now: datetime
) -> list[bool]:
    """For each ``(customer id, profile values)``, in order, fill the columns and the custom
    attributes the profile lacks; whether each one changed something. Values are cleaned
    already (``service.clean_profile``); tags are left alone.

    The profiles are locked in primary-key order and written in one statement; a profile
    completed by several entries sees the earlier ones' values and moves its version once
    per entry that changed it, as that many updates one by one would."""
    if not completions:
        return []
    profiles = repository.lock_profiles(
        session, (c for c, _ in completions), (*PROFILE_COLUMNS, ATTRIBUTES)
    )
    changes: Counter[int] = Counter()
    changed: list[bool] = []
    for customer_id, values in completions:
        profile = profiles[customer_id]
        missing = fill_missing(profile, {k: values[k] for k in PROFILE_COLUMNS if k in values})
        profile.update(missing)
        attributes = fill_missing(profile[ATTRIBUTES] or {}, values.get(ATTRIBUTES) or {})
        if attributes:
            profile[ATTRIBUTES] = {**(profile[ATTRIBUTES] or {}), **attributes}
        changes[customer_id] += bool(missing or attributes)
        changed.append(bool(missing or attributes))
    repository.update_profiles(
        session,
        [
            {
                "id": customer_id,
                **{c: profiles[customer_id][c] for c in (*PROFILE_COLUMNS, ATTRIBUTES)},
                "version": profiles[customer_id]["version"] + count,
                "updated_at": now,
            }
            for customer_id, count in sorted(changes.items())
            if count
        ],
    )
    return changed
