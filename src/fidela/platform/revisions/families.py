"""The families of configuration tables and the tables each one covers (the migration installs
a trigger on each table; the session listener forgets a snapshot when one is written)."""

from __future__ import annotations

FAMILIES: dict[str, tuple[str, ...]] = {
    "loyalty_programme": ("loyalty_programme",),
    "charity": ("charity", "charity_pledge"),
    "journey": ("engagement_journey",),
    "referral_programme": ("referral_programme",),
}

TABLE_FAMILY: dict[str, str] = {
    table: family for family, tables in FAMILIES.items() for table in tables
}
