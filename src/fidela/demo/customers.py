"""Customer profiles: who the customers are, where they live, how they signed up, what they allow.

A profile is drawn from hash uniforms keyed by the customer's global index (see `streams`), so
the profile of any customer can be computed on its own; this is what lets a referee's block know
the signup time of a referrer generated in another block. Customer numbers follow signup order:
customer ``i`` of ``N`` signs up at the stratified quantile ``(i + u) / N`` of a signup curve
that grows over the window (a growing retailer) and follows the seasonal, weekly and daily
pattern of the customer's channel in their own time zone.

Uniqueness by construction: emails end with a number that is a bijection of the customer index,
phone numbers and loyalty cards are affine bijections of it within their number space, so no
set-membership check is ever needed.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fidela.demo.catalogue import CATEGORIES
from fidela.demo.seasonality import ONLINE_CURVE, STORE_CURVE, Calendar
from fidela.demo.segments import (
    BoolArray,
    FloatArray,
    IntArray,
    UIntArray,
    cumulative,
    pick,
    pick_rows,
)
from fidela.demo.streams import hashed_bits, hashed_uniform
from fidela.demo.text import strings, zero_padded
from fidela.demo.vocabulary import (
    CITIES,
    COUNTRY_SHARES,
    EMAIL_DOMAIN_WEIGHTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    GENDERS,
    INTEREST_LIFESTYLES,
    LANGUAGES,
    LAST_NAMES,
    TIMEZONES,
)

COUNTRIES: tuple[str, ...] = tuple(COUNTRY_SHARES)
SIGNUP_GROWTH = 0.8  # signups per day grow by e**0.8 (x2.2) from window start to end
CONSENTS: tuple[str, ...] = (
    "consent_email_marketing",
    "consent_sms_marketing",
    "consent_push_marketing",
    "consent_postal_marketing",
    "consent_profiling",
    "consent_analytics",
)
_CONSENT_BASE = (0.68, 0.38, 0.62, 0.22, 0.57, 0.74)


class Field:
    """Field numbers of the profile hash (stable: changing one changes that attribute only)."""

    COUNTRY, CITY, LANGUAGE, GENDER, GENDER_LIST, FIRST, LAST = 1, 2, 3, 4, 5, 6, 7
    CHANNEL, SIGNUP, AGE1, AGE2, APP, PREFERRED, DOMAIN, PATTERN = 8, 9, 10, 11, 12, 13, 14, 15
    OPENNESS, DEVICE_HI, DEVICE_LO, LIFESTYLE, CARD, PHONE, EMAIL_NUMBER = (
        16, 17, 18, 19, 20, 21, 22,
    )  # fmt: skip
    CONSENT = 30  # + consent number
    HOME_STORE = 40


def _ascii(word: str) -> str:
    """Lower-case ASCII form of a name for email local parts ("Hélène" -> "helene")."""
    decomposed = unicodedata.normalize("NFKD", word)
    kept = "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch == "-"))
    return kept.lower()


def _flatten(groups: list[tuple[str, ...]]) -> tuple[tuple[str, ...], IntArray, IntArray]:
    words = tuple(w for group in groups for w in group)
    sizes = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return words, offsets, sizes


# First names flattened as [fr female, fr male, en female, en male]; last names as [fr, en].
FIRST_NAME_WORDS, _FIRST_OFFSET, _FIRST_SIZE = _flatten(
    [FIRST_NAMES[lang][g] for lang in LANGUAGES for g in ("female", "male")]
)
LAST_NAME_WORDS, _LAST_OFFSET, _LAST_SIZE = _flatten([LAST_NAMES[lang] for lang in LANGUAGES])
_FIRST_ASCII = pa.array([_ascii(w) for w in FIRST_NAME_WORDS])
_LAST_ASCII = pa.array([_ascii(w) for w in LAST_NAME_WORDS])

_CITY_TZ = np.array([TIMEZONES.index(c.timezone) for c in CITIES], dtype=np.int64)
_CITY_FRENCH = np.array([c.french_share for c in CITIES])
# Per country, the cumulative city distribution (cities of other countries get weight 0).
_CITY_CUM = np.array(
    [
        cumulative([c.weight if c.country == country else 0.0 for c in CITIES])
        for country in COUNTRIES
    ]
)

# Phone number spaces per country: (prefix, digits after it). All pass phonenumbers validation.
_FR_MOBILE = ("61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78")
# UK mobile blocks (after "+447") that phonenumbers maps to GB itself, not to the Channel
# Islands or the Isle of Man (which share the +44 7 space).
_UK_MOBILE = tuple(
    str(p) for p in (40, 41, 42, 43, 44, 46, 47, 48, 49, 51, *range(53, 60), *range(71, 78), 80, 81)
) + tuple(str(p) for p in (*range(84, 91), 92, *range(94, 100)))
_CA_AREAS = ("416", "647", "437", "514", "438", "418", "613", "343", "604", "778", "403", "587",
             "780", "204", "902", "905", "289", "819")  # fmt: skip
# North American exchange codes start with 2-9; N11 (service codes) and x55 (555 is kept for
# fiction and directory services) are left out.
_CA_EXCHANGES = np.array([e for e in range(200, 1000) if e % 100 not in (11, 55)], dtype=np.int64)
_MULTIPLIER = 982_451_653  # prime: coprime with every number space below


@dataclass(frozen=True)
class Profiles:
    """Profiles of a run of customers (arrays aligned on ``index``)."""

    seed: int
    index: IntArray  # global customer number - 1
    city: IntArray
    country: IntArray  # into COUNTRIES
    timezone: IntArray  # into TIMEZONES
    language: IntArray  # into LANGUAGES
    gender: IntArray  # into GENDERS
    first_name: IntArray  # into FIRST_NAME_WORDS
    last_name: IntArray  # into LAST_NAME_WORDS
    signup_channel: IntArray  # 0 store, 1 web, 2 app
    signup_hours: FloatArray
    has_app: BoolArray
    birth_day: IntArray  # days since epoch
    preferred_channel: IntArray  # into PREFERRED_CHANNELS
    consents: BoolArray  # (n, len(CONSENTS)) at signup
    lifestyle: IntArray  # bit mask over INTEREST_LIFESTYLES
    home_store: IntArray
    # Aliases: whose email / phone / device this customer uses (itself unless a fraud ring
    # member), and the "+tag" of a plus-addressed email (0 = none).
    email_owner: IntArray
    email_tag: IntArray
    phone_owner: IntArray
    device_owner: IntArray

    @property
    def size(self) -> int:
        return int(self.index.size)

    @property
    def curve_kind(self) -> IntArray:
        """Seasonal curve kind of the customer's habits: store signups shop in store."""
        return np.where(self.signup_channel == 0, STORE_CURVE, ONLINE_CURVE).astype(np.int64)


def signup_hours(seed: int, index: IntArray, customers: int, calendar: Calendar) -> FloatArray:
    """Signup time (hours since window start) of customers by global index; pure in the index."""
    u = hashed_uniform(seed, index, Field.SIGNUP)
    x = (index + u) / customers
    grown = np.log1p(x * math.expm1(SIGNUP_GROWTH)) / SIGNUP_GROWTH
    country = pick_country(seed, index)
    city = pick_city(seed, index, country)
    kind = np.where(signup_channel(seed, index, country) == 0, STORE_CURVE, ONLINE_CURVE)
    curve = calendar.curve(kind.astype(np.int64), _CITY_TZ[city])
    hours = calendar.to_calendar(curve, grown * calendar.days)
    return np.minimum(hours, calendar.hours - 1e-3)


def pick_country(seed: int, index: IntArray) -> IntArray:
    return pick(
        cumulative(list(COUNTRY_SHARES.values())), hashed_uniform(seed, index, Field.COUNTRY)
    )


def pick_city(seed: int, index: IntArray, country: IntArray) -> IntArray:
    return pick_rows(_CITY_CUM[country], hashed_uniform(seed, index, Field.CITY))


def signup_channel(seed: int, index: IntArray, country: IntArray) -> IntArray:
    """0 store, 1 web, 2 app; Canadians sign up online a little more often."""
    u = hashed_uniform(seed, index, Field.CHANNEL)
    store_share = np.where(country == COUNTRIES.index("CA"), 0.36, 0.46)
    return np.where(u < store_share, 0, np.where(u < store_share + 0.33, 1, 2)).astype(np.int64)


def draw_profiles(
    seed: int, index: IntArray, customers: int, calendar: Calendar, home_stores: HomeStores
) -> Profiles:
    """Profiles of the customers ``index`` (global numbers - 1) of a run of ``customers``."""

    def u(field: int) -> FloatArray:
        return hashed_uniform(seed, index, field)

    country = pick_country(seed, index)
    city = pick_city(seed, index, country)
    language = np.where(u(Field.LANGUAGE) < _CITY_FRENCH[city], 0, 1).astype(np.int64)
    gender = pick(cumulative([0.52, 0.45, 0.01, 0.02]), u(Field.GENDER))
    # Other/unknown genders still carry a given name from one of the two lists.
    name_list = np.where(gender <= 1, gender, (u(Field.GENDER_LIST) < 0.5).astype(np.int64))
    group = language * 2 + name_list
    first = _FIRST_OFFSET[group] + (u(Field.FIRST) * _FIRST_SIZE[group]).astype(np.int64)
    last = _LAST_OFFSET[language] + (u(Field.LAST) * _LAST_SIZE[language]).astype(np.int64)
    channel = signup_channel(seed, index, country)
    signup = signup_hours(seed, index, customers, calendar)
    has_app = (channel == 2) | (u(Field.APP) < 0.22)
    # Age at signup: 18 + Gamma(2, 11 years), mean about 40, capped at 90.
    age_years = np.minimum(18.0 - 11.0 * (np.log1p(-u(Field.AGE1)) + np.log1p(-u(Field.AGE2))), 90)
    signup_day = calendar.day_number(signup)
    birth = signup_day - np.floor(age_years * 365.25).astype(np.int64)
    preferred = np.where(
        has_app,
        pick(cumulative([0.3, 0.1, 0.35, 0.2, 0.05]), u(Field.PREFERRED)),
        pick(cumulative([0.62, 0.28, 0.0, 0.0, 0.10]), u(Field.PREFERRED)),
    )
    # One "openness" draw scales all consent probabilities: consents are positively correlated.
    openness = 0.6 + 0.8 * u(Field.OPENNESS)
    consents = np.empty((index.size, len(CONSENTS)), dtype=np.bool_)
    for k, base in enumerate(_CONSENT_BASE):
        consents[:, k] = u(Field.CONSENT + k) < base * openness
    consents[:, 2] &= has_app  # push needs the app
    lifestyle = np.zeros(index.size, dtype=np.int64)
    bits = hashed_bits(seed, index, Field.LIFESTYLE)
    for k in range(len(INTEREST_LIFESTYLES)):
        # 8 bits per tag: each tag independently with probability 30/256 (about 12 %).
        lifestyle |= (((bits >> np.uint64(8 * k)) & np.uint64(255)) < 30).astype(np.int64) << k
    return Profiles(
        seed=seed,
        index=index,
        city=city,
        country=country,
        timezone=_CITY_TZ[city],
        language=language,
        gender=gender,
        first_name=first,
        last_name=last,
        signup_channel=channel,
        signup_hours=signup,
        has_app=has_app,
        birth_day=birth,
        preferred_channel=preferred,
        consents=consents,
        lifestyle=lifestyle,
        home_store=home_stores.pick(city, u(Field.HOME_STORE)),
        email_owner=index.copy(),
        email_tag=np.zeros(index.size, dtype=np.int64),
        phone_owner=index.copy(),
        device_owner=index.copy(),
    )


@dataclass(frozen=True)
class HomeStores:
    """The store each customer shops at: one in their city, else one in their time zone (a
    store visit happens during the store's opening hours in the customer's local time)."""

    by_city: tuple[IntArray, ...]
    by_timezone: tuple[IntArray, ...]  # aligned on TIMEZONES

    def pick(self, city: IntArray, u: FloatArray) -> IntArray:
        out = np.empty(city.size, dtype=np.int64)
        for c in np.unique(city):
            rows = city == c
            pool = self.by_city[c] if self.by_city[c].size else self.by_timezone[_CITY_TZ[c]]
            out[rows] = pool[(u[rows] * pool.size).astype(np.int64)]
        return out


def _affine(index: IntArray, seed: int, field: int, space: int) -> IntArray:
    """A bijection of ``index`` onto [0, space) for index < space (unique numbers).

    The multiplier is a prime that divides no space used here; with indices below 10**8 the
    product stays below 2**63.
    """
    offset = hashed_bits(seed, np.zeros(1, dtype=np.int64), field) % np.uint64(space)
    return (index % space * _MULTIPLIER + offset.astype(np.int64)) % space


def _digits(values: IntArray, width: int) -> pa.Array:
    return strings(zero_padded(values, width))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def email_column(
    seed: int, owner: IntArray, first: IntArray, last: IntArray, tag: IntArray, customers: int
) -> pa.Array:
    """Lower-case unique emails on reserved domains: "{pattern}{number}@{domain}".

    The trailing number is a bijection of the owner index, and no name ends with a digit, so
    two owners never share an email; plus tags ("+2") keep ring members' aliases unique too.
    """
    space = 10_000_000 if customers <= 10_000_000 else 100_000_000
    number = _affine(owner, seed, Field.EMAIL_NUMBER, space)
    domain = pick(cumulative(EMAIL_DOMAIN_WEIGHTS), hashed_uniform(seed, owner, Field.DOMAIN))
    pattern = (hashed_uniform(seed, owner, Field.PATTERN) * 5).astype(np.int64)
    f = _FIRST_ASCII.take(pa.array(first))
    la = _LAST_ASCII.take(pa.array(last))
    initial = pc.utf8_slice_codeunits(f, 0, 1)
    choices = [
        _join(f, ".", la),
        _join(f, la),
        _join(initial, ".", la),
        _join(f, "_", la),
        _join(la, ".", f),
    ]
    local = choices[0]
    for k in range(1, len(choices)):
        local = pc.if_else(pa.array(pattern == k), choices[k], local)
    local = _join(local, pa.array(number).cast(pa.string()))
    tagged = _join(local, "+", pa.array(tag).cast(pa.string()))
    local = pc.if_else(pa.array(tag > 0), tagged, local)
    domains = pa.array(EMAIL_DOMAINS).take(pa.array(domain))
    return _join(local, "@", domains)


def phone_column(seed: int, owner: IntArray, country: IntArray) -> pa.Array:
    """E.164 mobile numbers (FR +336/+337, UK +447, CA), unique per owner within a country."""
    fr = _affine(owner, seed, Field.PHONE, len(_FR_MOBILE) * 10_000_000)
    uk = _affine(owner, seed, Field.PHONE + 100, len(_UK_MOBILE) * 10_000_000)
    ca_space = _CA_EXCHANGES.size * 10_000
    ca = _affine(owner, seed, Field.PHONE + 200, len(_CA_AREAS) * ca_space)
    fr_text = _join(
        "+33",
        pa.array(_FR_MOBILE).take(pa.array(fr // 10_000_000)),
        _digits(fr % 10_000_000, 7),
    )
    uk_text = _join(
        "+447",
        pa.array(_UK_MOBILE).take(pa.array(uk // 10_000_000)),
        _digits(uk % 10_000_000, 7),
    )
    rest = ca % ca_space
    ca_text = _join(
        "+1",
        pa.array(_CA_AREAS).take(pa.array(ca // ca_space)),
        pa.array(_CA_EXCHANGES[rest // 10_000]).cast(pa.string()),
        _digits(rest % 10_000, 4),
    )
    fr_code = COUNTRIES.index("FR")
    gb_code = COUNTRIES.index("GB")
    return pc.if_else(
        pa.array(country == fr_code),
        fr_text,
        pc.if_else(pa.array(country == gb_code), uk_text, ca_text),
    )


def loyalty_card_column(seed: int, index: IntArray) -> pa.Array:
    """13-digit EAN-13 card numbers in the in-store "29" range, unique per customer."""
    body = 290_000_000_000 + _affine(index, seed, Field.CARD, 10_000_000_000)
    digits = (body[:, None] // (10 ** np.arange(11, -1, -1, dtype=np.int64))) % 10
    weights = np.tile(np.array([1, 3], dtype=np.int64), 6)
    check = (10 - (digits * weights).sum(axis=1) % 10) % 10
    return strings(zero_padded(body * 10 + check, 13))


def device_bits(seed: int, owner: IntArray) -> tuple[UIntArray, UIntArray]:
    """The 128 bits of the app device of each device owner (see `uuid_column`)."""
    return hashed_bits(seed, owner, Field.DEVICE_HI), hashed_bits(seed, owner, Field.DEVICE_LO)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuid_column(hi: UIntArray, lo: UIntArray, valid: BoolArray) -> pa.Array:
    """Format 128 bits as a lower-case 8-4-4-4-12 UUID string (null where not ``valid``)."""
    n = hi.size
    nibbles = np.empty((n, 32), dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles[:, :16] = (hi.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    nibbles[:, 16:] = (lo.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    columns = [*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]
    chars[:, columns] = _HEX[nibbles.astype(np.int64)]
    return pc.if_else(pa.array(valid), strings(chars), pa.scalar(None, type=pa.string()))


def interests_column(category_weights: FloatArray, lifestyle: IntArray) -> pa.Array:
    """Semicolon-separated interest tags: favourite categories then lifestyle tags."""
    n_categories = category_weights.shape[1]
    strong = category_weights >= 0.2
    top = np.argmax(category_weights, axis=1)
    strong[np.arange(top.size), top] = True
    mask = (strong.astype(np.int64) << np.arange(n_categories, dtype=np.int64)).sum(axis=1)
    mask |= lifestyle << n_categories
    tags = [c.name for c in CATEGORIES[:n_categories]] + list(INTEREST_LIFESTYLES)
    unique, inverse = np.unique(mask, return_inverse=True)
    texts = [";".join(t for k, t in enumerate(tags) if int(m) >> k & 1) for m in unique]
    return pa.array(texts).take(pa.array(inverse.astype(np.int64)))


def gender_column(gender: IntArray) -> pa.Array:
    return pa.array(GENDERS).take(pa.array(gender))
