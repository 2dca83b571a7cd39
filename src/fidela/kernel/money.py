"""Money as an integer number of minor units plus an ISO 4217 currency.

Never a float: amounts are ``int`` minor units (cents), and arithmetic across currencies is an
error rather than a silent conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from fidela.kernel.errors import InvalidInput

# Minor-unit exponents that differ from the default of 2 (ISO 4217). Currencies not listed
# here but in KNOWN_CURRENCIES use 2.
_EXPONENTS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "XOF": 0,
    "XAF": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "JOD": 3,
}

KNOWN_CURRENCIES: frozenset[str] = frozenset(
    {
        "EUR", "USD", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK",
        "HUF", "RON", "BGN", "TRY", "MAD", "ZAR", "BRL", "MXN", "ARS", "COP", "PEN", "INR",
        "CNY", "HKD", "SGD", "AED", "SAR", "ILS", "EGP", "NGN", "KES", "THB", "MYR", "IDR",
        "PHP", *_EXPONENTS,
    }
)  # fmt: skip


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"
    title = "Unknown currency"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"
    title = "Currencies differ"


def parse_currency(value: str) -> str:
    """Return the upper-case ISO 4217 code, or raise ``UnknownCurrency``."""
    code = value.strip().upper()
    if code not in KNOWN_CURRENCIES:
        raise UnknownCurrency(f"'{value}' is not a supported ISO 4217 currency code")
    return code


def minor_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of ``currency`` (e.g. 1999 EUR = 19.99 €)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int number of minor units")
        parse_currency(self.currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str, currency: str) -> Money:
        """Build from a major-unit decimal ("19.99"); rounds half-even to the minor unit."""
        code = parse_currency(currency)
        scaled = (Decimal(amount) * (Decimal(10) ** minor_exponent(code))).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return cls(int(scaled), code)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"
