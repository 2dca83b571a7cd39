"""Activity tables: consistent with each customer's life, their consents and their truth."""

from __future__ import annotations

import numpy as np
import pytest

from fidela.demo.feedback import COMMENT_TEXTS
from fidela.demo.vocabulary import COMMENT_DETAILS, COMMENT_OPENERS, REVIEW_TITLES
from tests.demo.dataset import MISSING, Dataset

TIMED = [
    ("orders", "ordered_at"),
    ("returns", "returned_at"),
    ("sessions", "started_at"),
    ("sessions", "ended_at"),
    ("email_events", "sent_at"),
    ("email_events", "opened_at"),
    ("email_events", "clicked_at"),
    ("email_events", "unsubscribed_at"),
    ("support_interactions", "occurred_at"),
    ("survey_answers", "answered_at"),
    ("reviews", "posted_at"),
    ("social_shares", "shared_at"),
]


@pytest.mark.parametrize(("table", "column"), TIMED)
def test_nothing_happens_before_signup_or_after_end(
    dataset: Dataset, table: str, column: str
) -> None:
    signup = dataset.micros("customers", "signup_at")
    times = dataset.micros(table, column)
    present = times != MISSING
    assert present.any()
    customer = dataset.customer_positions(table)
    assert (times[present] >= signup[customer[present]]).all()
    assert (times[present] < dataset.end_us).all()


def test_referrals_follow_both_signups(dataset: Dataset) -> None:
    signup = dataset.micros("customers", "signup_at")
    referrer = dataset.customer_positions("referrals", "referrer_id")
    referee = dataset.customer_positions("referrals", "referee_id")
    created = dataset.micros("referrals", "created_at")
    signed_up = dataset.micros("referrals", "signed_up_at")
    # Referrers may come from anywhere before: the full table is the reference.
    assert (created >= signup[referrer]).all()
    assert (created < dataset.end_us).all()
    joined = referee >= 0
    assert 0.03 < joined.sum() / dataset.config.customers < 0.1
    assert (~joined).any()
    assert (signed_up[joined] == signup[referee[joined]]).all()
    assert (created[joined] <= signed_up[joined]).all()
    assert (signed_up[~joined] == MISSING).all()
    assert (referrer[joined] != referee[joined]).all()
    # The first order of a referee is their earliest order.
    first_order = dataset.numbers("referrals", "first_order_id") - 1
    with_order = first_order >= 0
    order_customer = dataset.customer_positions("orders")
    assert (order_customer[first_order[with_order]] == referee[with_order]).all()
    codes = dataset.values("referrals", "code")
    by_referrer: dict[int, str] = {}
    for who, code in zip(referrer, codes, strict=True):
        assert by_referrer.setdefault(int(who), str(code)) == code  # one code per referrer


def test_most_online_orders_have_a_converting_session(dataset: Dataset) -> None:
    channel = dataset.values("orders", "channel")
    online = np.flatnonzero(channel != "store")
    converted = dataset.numbers("sessions", "converted_order_id") - 1
    links = converted[converted >= 0]
    assert np.unique(links).size == links.size  # one session per order at most
    assert np.isin(online, links).mean() > 0.8
    assert not np.isin(np.flatnonzero(channel == "store"), links).any()
    session = np.flatnonzero(converted >= 0)
    ordered = dataset.micros("orders", "ordered_at")[converted[session]]
    assert (dataset.micros("sessions", "started_at")[session] <= ordered).all()
    assert (dataset.micros("sessions", "ended_at")[session] >= ordered).all()
    order_customer = dataset.values("orders", "customer_id")[converted[session]]
    assert (dataset.values("sessions", "customer_id")[session] == order_customer).all()
    assert (dataset.values("sessions", "login")[session]).all()
    assert not (dataset.values("sessions", "abandoned_cart")[session]).any()


def test_abandoned_carts_are_more_common_after_dropout(dataset: Dataset) -> None:
    dropout = dataset.micros("truth/customers", "dropout_at")
    customer = dataset.customer_positions("sessions")
    started = dataset.micros("sessions", "started_at")
    abandoned = dataset.values("sessions", "abandoned_cart").astype(bool)
    browsing = dataset.numbers("sessions", "converted_order_id") < 0
    their_dropout = dropout[customer]
    after = browsing & (their_dropout != MISSING) & (started > their_dropout)
    before = browsing & ((their_dropout == MISSING) | (started <= their_dropout))
    assert after.sum() > 200
    assert abandoned[after].mean() > 1.5 * abandoned[before].mean()
    device = dataset.values("sessions", "device_id")
    app = dataset.values("sessions", "channel") == "app"
    assert all(d is None for d in device[~app])


def test_only_consenting_customers_get_marketing_emails(dataset: Dataset) -> None:
    customer = dataset.customer_positions("email_events")
    consent_now = dataset.values("customers", "consent_email_marketing").astype(bool)
    unsubscribed = dataset.micros("email_events", "unsubscribed_at")
    left = np.unique(customer[unsubscribed != MISSING])
    # Consent shown is the consent now: withdrawn for exactly those who unsubscribed.
    assert left.size > 0
    assert not consent_now[left].any()
    assert consent_now[np.setdiff1d(customer, left)].all()
    # Nothing is sent after an unsubscribe.
    sent = dataset.micros("email_events", "sent_at")
    stop = np.full(dataset.config.customers, np.iinfo(np.int64).max)
    np.minimum.at(stop, customer[unsubscribed != MISSING], unsubscribed[unsubscribed != MISSING])
    assert (sent < stop[customer]).all()
    opened = dataset.micros("email_events", "opened_at")
    clicked = dataset.micros("email_events", "clicked_at")
    assert (opened[opened != MISSING] > sent[opened != MISSING]).all()
    assert (opened[clicked != MISSING] != MISSING).all()
    assert (clicked[clicked != MISSING] > opened[clicked != MISSING]).all()


def test_email_engagement_falls_after_dropout(dataset: Dataset) -> None:
    customer = dataset.customer_positions("email_events")
    sent = dataset.micros("email_events", "sent_at")
    opened = dataset.micros("email_events", "opened_at") != MISSING
    dropout = dataset.micros("truth/customers", "dropout_at")[customer]
    dropped = dropout != MISSING
    before = dropped & (sent <= dropout)
    after = dropped & (sent > dropout)
    assert after.sum() > 500
    assert opened[after].mean() < 0.6 * opened[before].mean()


def test_survey_comment_sentiment_matches_score(dataset: Dataset) -> None:
    survey = dataset.values("survey_answers", "survey")
    score = dataset.values("survey_answers", "score")
    sentiment = dataset.values("survey_answers", "sentiment")
    language = dataset.values("survey_answers", "language")
    comment = dataset.values("survey_answers", "comment")
    assert set(survey) == {"nps", "csat", "exit"}
    nps = survey == "nps"
    assert ((score[nps] >= 0) & (score[nps] <= 10)).all()
    assert ((score[~nps] >= 1) & (score[~nps] <= 5)).all()
    expected = np.where(
        nps,
        np.where(score <= 6, "negative", np.where(score <= 8, "neutral", "positive")),
        np.where(score <= 2, "negative", np.where(score == 3, "neutral", "positive")),
    )
    assert (sentiment == expected).all()
    with_comment = 0
    for text, tone, lang in zip(comment, sentiment, language, strict=True):
        if text is None:
            continue
        with_comment += 1
        opener = next(o for o in COMMENT_OPENERS[lang][tone] if text.startswith(o + " "))
        assert text[len(opener) + 1 :] in COMMENT_DETAILS[lang][tone]
    assert with_comment > 200
    customer_language = dataset.values("customers", "language")
    assert (language == customer_language[dataset.customer_positions("survey_answers")]).all()
    # Exit surveys are unhappy; answers given shortly before a dropout are worse than others.
    assert (sentiment[survey == "exit"] == "negative").mean() > 0.5
    assert len(COMMENT_TEXTS) == len(set(COMMENT_TEXTS))


def test_complaints_come_before_dropout(dataset: Dataset) -> None:
    customer = dataset.customer_positions("support_interactions")
    occurred = dataset.micros("support_interactions", "occurred_at")
    complaint = dataset.values("support_interactions", "complaint").astype(bool)
    dropout = dataset.micros("truth/customers", "dropout_at")[customer]
    day = 86_400_000_000
    soon = (dropout != MISSING) & (occurred <= dropout) & (occurred > dropout - 45 * day)
    assert soon.sum() > 100
    assert complaint[soon].mean() > 2 * complaint[~soon].mean()
    response = dataset.values("support_interactions", "response_time_minutes")
    assert (response >= 1).all()


def test_reviews_rate_bought_products_in_the_customer_language(dataset: Dataset) -> None:
    order = dataset.numbers("reviews", "order_id") - 1
    product = dataset.values("reviews", "product_id")
    customer = dataset.values("reviews", "customer_id")
    assert (dataset.values("orders", "customer_id")[order] == customer).all()
    bought = set(
        zip(
            dataset.numbers("order_lines", "order_id") - 1,
            dataset.values("order_lines", "product_id"),
            strict=True,
        )
    )
    assert all((int(o), p) in bought for o, p in zip(order, product, strict=True))
    posted = dataset.micros("reviews", "posted_at")
    assert (posted > dataset.micros("orders", "ordered_at")[order]).all()
    rating = dataset.values("reviews", "rating")
    title = dataset.values("reviews", "title")
    language = dataset.values("reviews", "language")
    for stars, text, lang in zip(rating, title, language, strict=True):
        tone = "negative" if stars <= 2 else "neutral" if stars == 3 else "positive"
        assert text in REVIEW_TITLES[lang][tone]


def test_shares_show_products_the_customer_bought_before(dataset: Dataset) -> None:
    product = dataset.values("social_shares", "product_id")
    assert any(p is None for p in product)
    line_order = dataset.numbers("order_lines", "order_id") - 1
    order_customer = dataset.values("orders", "customer_id")[line_order]
    ordered = dataset.micros("orders", "ordered_at")[line_order]
    first_bought: dict[tuple[str, str], int] = {}
    for who, what, when in zip(
        order_customer, dataset.values("order_lines", "product_id"), ordered, strict=True
    ):
        key = (str(who), str(what))
        first_bought[key] = min(first_bought.get(key, when), when)
    shared = dataset.micros("social_shares", "shared_at")
    customer = dataset.values("social_shares", "customer_id")
    with_product = 0
    for who, what, when in zip(customer, product, shared, strict=True):
        if what is None:
            continue
        with_product += 1
        assert first_bought[(str(who), str(what))] < when
    assert with_product > 0.5 * product.size
