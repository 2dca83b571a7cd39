"""What customers say: support interactions, survey answers and product reviews.

- Support: contacts after some orders (delivery, product, payment) and returns, background
  account and points questions, and, for a quarter of the customers who drop out, one or two
  contacts in the 45 days before their dropout, mostly complaints. Complaints are therefore a
  leading signal of churn, as in real programmes.
- Surveys: NPS (0-10) after some orders, CSAT (1-5) after some support contacts, and an exit
  survey (1-5) some weeks after a dropout. Scores fall with the customer's dropout probability,
  before an imminent dropout, after a return or an unresolved contact. The ``sentiment`` column
  is the truth label derived from the score (NPS: 0-6 negative, 7-8 neutral, 9-10 positive;
  1-5 scales: 1-2 negative, 3 neutral, 4-5 positive) and the optional comment is written in the
  customer's language from phrases of that same sentiment.
- Reviews: some delivered lines get a 1-5 rating with a title and body of the matching tone;
  returned lines are rated low.
"""

from __future__ import annotations

import numpy as np

from fidela.demo.catalogue import GIFT_CARD_CATEGORY
from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles
from fidela.demo.frames import Frame, concat, sort_rows, take
from fidela.demo.purchases import DAY, REGULAR, STORE, Behaviour
from fidela.demo.segments import FloatArray, IntArray, cumulative, pick
from fidela.demo.vocabulary import (
    COMMENT_DETAILS,
    COMMENT_OPENERS,
    LANGUAGES,
    REVIEW_BODIES,
    REVIEW_TITLES,
    SENTIMENTS,
    SUPPORT_TOPICS,
)

NPS, CSAT, EXIT = 0, 1, 2
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


def _topic(*names: str) -> IntArray:
    return np.array([SUPPORT_TOPICS.index(n) for n in names], dtype=np.int64)


_ONLINE_TOPICS = _topic("delivery", "product", "payment", "damaged_item", "refund_delay")
_ONLINE_TOPIC_CUM = cumulative([0.45, 0.2, 0.1, 0.15, 0.1])
_STORE_TOPICS = _topic("product", "store_experience", "payment")
_STORE_TOPIC_CUM = cumulative([0.5, 0.3, 0.2])
_RETURN_TOPICS = _topic("return", "refund_delay")
_BACKGROUND_TOPICS = _topic("account", "loyalty_points")
_GRIEVANCE_TOPICS = _topic(
    "delivery", "damaged_item", "refund_delay", "product", "store_experience"
)
# Probability that a contact on each topic (SUPPORT_TOPICS order) is a complaint.
_COMPLAINT_RATE = np.array([0.12, 0.08, 0.08, 0.05, 0.08, 0.03, 0.2, 0.25, 0.15])
_CHANNEL_CUM = cumulative([0.35, 0.3, 0.25, 0.1])
_RESPONSE_MEDIAN_MINUTES = np.array([4.0, 480.0, 6.0, 90.0])  # SUPPORT_CHANNELS order


def _flat_texts(
    groups: dict[str, dict[str, tuple[str, ...]]],
) -> tuple[tuple[str, ...], IntArray, IntArray]:
    """Texts of every (language, sentiment) group flattened, with group offsets and sizes
    indexed by ``language * len(SENTIMENTS) + sentiment``."""
    texts: list[str] = []
    offsets: list[int] = []
    sizes: list[int] = []
    for language in LANGUAGES:
        for sentiment in SENTIMENTS:
            group = groups[language][sentiment]
            offsets.append(len(texts))
            sizes.append(len(group))
            texts.extend(group)
    return tuple(texts), np.array(offsets, dtype=np.int64), np.array(sizes, dtype=np.int64)


COMMENT_TEXTS, _COMMENT_OFFSET, _COMMENT_SIZE = _flat_texts(
    {
        language: {
            sentiment: tuple(
                f"{opener} {detail}"
                for opener in COMMENT_OPENERS[language][sentiment]
                for detail in COMMENT_DETAILS[language][sentiment]
            )
            for sentiment in SENTIMENTS
        }
        for language in LANGUAGES
    }
)
REVIEW_TITLE_TEXTS, _TITLE_OFFSET, _TITLE_SIZE = _flat_texts(REVIEW_TITLES)
REVIEW_BODY_TEXTS, _BODY_OFFSET, _BODY_SIZE = _flat_texts(REVIEW_BODIES)


def _phrase(offset: IntArray, size: IntArray, group: IntArray, u: FloatArray) -> IntArray:
    return offset[group] + (u * size[group]).astype(np.int64)


def draw_support(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    orders: Frame,
    returns: Frame,
    rng: np.random.Generator,
) -> Frame:
    """Support interactions of a block, by customer and time."""
    end = ctx.calendar.hours
    n = profiles.size
    parts: list[Frame] = []

    regular = orders["kind"] == REGULAR
    online = orders["channel"] != STORE
    rows = np.flatnonzero(regular & (rng.random(regular.size) < np.where(online, 0.05, 0.015)))
    u = rng.random(rows.size)
    topic = np.where(
        online[rows],
        _ONLINE_TOPICS[pick(_ONLINE_TOPIC_CUM, u)],
        _STORE_TOPICS[pick(_STORE_TOPIC_CUM, u)],
    )
    after = orders["hours"][rows]
    parts.append(
        _contacts(
            orders["customer"][rows],
            after + rng.uniform(1, 10, rows.size) * DAY,
            topic,
            False,
            after,
            end,
        )
    )

    rows = np.flatnonzero(rng.random(returns["customer"].size) < 0.3)
    topic = _RETURN_TOPICS[(rng.random(rows.size) < 0.3).astype(np.int64)]
    after = returns["hours"][rows]
    hours = after + rng.uniform(1, 8, rows.size) * DAY
    parts.append(_contacts(returns["customer"][rows], hours, topic, False, after, end))

    tenure_years = np.maximum(end - profiles.signup_hours, 0.0) / (365.25 * DAY)
    count = rng.poisson(0.12 * tenure_years)
    customer = np.repeat(np.arange(n, dtype=np.int64), count)
    hours = profiles.signup_hours[customer] + rng.random(customer.size) * (
        end - profiles.signup_hours[customer]
    )
    topic = _BACKGROUND_TOPICS[rng.integers(0, 2, customer.size)]
    signup = profiles.signup_hours[customer]
    parts.append(_contacts(customer, hours, topic, False, signup, end))

    # Grievances before a dropout: the complaint signal churn models should find.
    dropped = np.flatnonzero(~np.isnan(behaviour.dropout_hours) & (rng.random(n) < 0.25))
    count = 1 + (rng.random(dropped.size) < 0.4).astype(np.int64)
    customer = np.repeat(dropped, count)
    dropout = behaviour.dropout_hours[customer]
    first = behaviour.first_hours[customer]
    hours = np.maximum(dropout - rng.uniform(0, 45, customer.size) * DAY, first + 1.0)
    topic = _GRIEVANCE_TOPICS[rng.integers(0, _GRIEVANCE_TOPICS.size, customer.size)]
    parts.append(_contacts(customer, hours, topic, True, first + 1.0, dropout))

    contacts = concat(parts)
    m = contacts["customer"].size
    contacts["hours"] = ctx.calendar.daytime(
        profiles.timezone[contacts["customer"]],
        contacts["hours"],
        rng.random(m),
        contacts.pop("earliest"),
        contacts.pop("latest"),
    )
    complaint = rng.random(m) < np.where(
        contacts["grievance"], 0.6, _COMPLAINT_RATE[contacts["topic"]]
    )
    channel = pick(_CHANNEL_CUM, rng.random(m))
    response = np.maximum(
        1,
        np.rint(
            rng.lognormal(np.log(_RESPONSE_MEDIAN_MINUTES[channel]), 0.7)
            * np.where(complaint, 1.6, 1.0)
        ),
    ).astype(np.int64)
    contacts.update(
        complaint=complaint,
        channel=channel,
        response_minutes=response,
        resolved=rng.random(m) < np.where(complaint, 0.62, 0.9),
    )
    del contacts["grievance"]
    contacts = take(contacts, contacts["hours"] < end)
    contacts, _ = sort_rows(contacts, "customer", "hours")
    return contacts


def _contacts(
    customer: IntArray,
    hours: FloatArray,
    topic: IntArray,
    grievance: bool,
    earliest: FloatArray,
    latest: FloatArray | float,
) -> Frame:
    """Contacts with the bounds their time must keep when moved to a waking hour."""
    return {
        "customer": customer.astype(np.int64),
        "hours": hours.astype(np.float64),
        "topic": topic.astype(np.int64),
        "grievance": np.full(customer.size, grievance, dtype=np.bool_),
        "earliest": earliest.astype(np.float64),
        "latest": np.broadcast_to(np.asarray(latest, dtype=np.float64), customer.shape).copy(),
    }


def _sentiment(survey: IntArray, score: IntArray) -> IntArray:
    nps = np.where(score <= 6, NEGATIVE, np.where(score <= 8, NEUTRAL, POSITIVE))
    five = np.where(score <= 2, NEGATIVE, np.where(score == 3, NEUTRAL, POSITIVE))
    return np.where(survey == NPS, nps, five).astype(np.int64)


def _soon_drops(behaviour: Behaviour, customer: IntArray, hours: FloatArray) -> FloatArray:
    """1.0 where the customer drops out within 60 days after ``hours``."""
    gap = behaviour.dropout_hours[customer] - hours
    return ((gap >= 0) & (gap < 60 * DAY)).astype(np.float64)


def draw_surveys(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    orders: Frame,
    returns: Frame,
    support: Frame,
    rng: np.random.Generator,
) -> Frame:
    """Survey answers of a block (NPS, CSAT, exit), by customer and time."""
    end = ctx.calendar.hours
    parts: list[Frame] = []

    rows = np.flatnonzero((orders["kind"] == REGULAR) & (rng.random(orders["kind"].size) < 0.05))
    customer = orders["customer"][rows]
    hours = orders["hours"][rows] + rng.uniform(1, 7, rows.size) * DAY
    returned = np.isin(rows, returns["order"]).astype(np.float64)
    mean = (
        8.6
        - 4.0 * behaviour.p[customer]
        - 2.5 * _soon_drops(behaviour, customer, hours)
        - 1.5 * returned
    )
    score = np.clip(np.rint(rng.normal(mean, 1.6)), 0, 10).astype(np.int64)
    parts.append(_answers(customer, hours, NPS, score, orders["hours"][rows]))

    rows = np.flatnonzero(rng.random(support["customer"].size) < 0.3)
    customer = support["customer"][rows]
    hours = (
        support["hours"][rows]
        + support["response_minutes"][rows] / 60.0
        + rng.uniform(0.5, 48.0, rows.size)
    )
    mean = np.where(support["resolved"][rows], 4.3, 2.3) - 0.6 * support["complaint"][rows]
    score = np.clip(np.rint(rng.normal(mean, 0.8)), 1, 5).astype(np.int64)
    parts.append(_answers(customer, hours, CSAT, score, support["hours"][rows]))

    dropped = np.flatnonzero(~np.isnan(behaviour.dropout_hours))
    customer = dropped[rng.random(dropped.size) < 0.12]
    hours = behaviour.dropout_hours[customer] + rng.uniform(30, 120, customer.size) * DAY
    score = np.clip(np.rint(rng.normal(2.2, 0.9, customer.size)), 1, 5).astype(np.int64)
    parts.append(_answers(customer, hours, EXIT, score, behaviour.dropout_hours[customer]))

    answers = concat(parts)
    answers["hours"] = ctx.calendar.daytime(
        profiles.timezone[answers["customer"]],
        answers["hours"],
        rng.random(answers["customer"].size),
        answers.pop("earliest") + 0.25,
        np.inf,
    )
    answers = take(answers, answers["hours"] < end)
    m = answers["customer"].size
    sentiment = _sentiment(answers["survey"], answers["score"])
    language = profiles.language[answers["customer"]]
    with_comment = rng.random(m) < np.array([0.35, 0.3, 0.75])[answers["survey"]]
    group = language * len(SENTIMENTS) + sentiment
    comment = _phrase(_COMMENT_OFFSET, _COMMENT_SIZE, group, rng.random(m))
    answers.update(
        sentiment=sentiment,
        language=language,
        comment=np.where(with_comment, comment, -1).astype(np.int64),
    )
    answers, _ = sort_rows(answers, "customer", "hours")
    return answers


def _answers(
    customer: IntArray, hours: FloatArray, survey: int, score: IntArray, earliest: FloatArray
) -> Frame:
    return {
        "customer": customer.astype(np.int64),
        "hours": hours.astype(np.float64),
        "survey": np.full(customer.size, survey, dtype=np.int64),
        "score": score,
        "earliest": earliest.astype(np.float64),
    }


def draw_reviews(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    orders: Frame,
    lines: Frame,
    returns: Frame,
    rng: np.random.Generator,
) -> Frame:
    """Product reviews of a block, by customer and time."""
    end = ctx.calendar.hours
    order = lines["order"]
    eligible = (orders["kind"][order] == REGULAR) & (lines["category"] != GIFT_CARD_CATEGORY)
    rows = np.flatnonzero(eligible & (rng.random(order.size) < 0.03))
    order = order[rows]
    customer = orders["customer"][order]
    ordered = orders["hours"][order]
    hours = ctx.calendar.daytime(
        profiles.timezone[customer],
        ordered + rng.uniform(3, 25, rows.size) * DAY,
        rng.random(rows.size),
        ordered + 24.0,
        np.inf,
    )
    keys = returns["order"] * 1_000 + returns["line_no"]
    returned = np.isin(order * 1_000 + lines["line_no"][rows], keys)
    mean = np.where(
        returned,
        1.8,
        4.3 - 1.2 * behaviour.p[customer] - 1.0 * _soon_drops(behaviour, customer, hours),
    )
    rating = np.clip(np.rint(rng.normal(mean, 0.9)), 1, 5).astype(np.int64)
    band = np.where(rating <= 2, NEGATIVE, np.where(rating == 3, NEUTRAL, POSITIVE))
    language = profiles.language[customer]
    group = language * len(SENTIMENTS) + band
    reviews = {
        "customer": customer,
        "order": order,
        "product": lines["product"][rows],
        "hours": hours,
        "rating": rating,
        "title": _phrase(_TITLE_OFFSET, _TITLE_SIZE, group, rng.random(rows.size)),
        "body": _phrase(_BODY_OFFSET, _BODY_SIZE, group, rng.random(rows.size)),
        "language": language,
    }
    reviews = take(reviews, hours < end)
    reviews, _ = sort_rows(reviews, "customer", "hours")
    return reviews
