from __future__ import annotations

import pytest

from fidela.analytics.churn.features import FEATURES
from fidela.analytics.churn.rules import (
    DEFAULT_RULES,
    ChurnRulesInvalid,
    evaluate_warnings,
    parse_rules,
)

RULES = parse_rules(DEFAULT_RULES, facts=FEATURES)


def facts(**values: float | None) -> dict[str, float | None]:
    return dict.fromkeys(FEATURES) | values


def test_the_seed_rules_fire_on_their_signals_with_reasons() -> None:
    warning = evaluate_warnings(
        RULES,
        facts(purchase_change_30d=-0.5, days_since_login=20, complaints_90d=2, unsubscribed_90d=1),
    )
    assert warning.rule_ids == (
        "purchases_down_no_login",
        "repeated_complaints",
        "newsletter_unsubscribe",
    )
    assert warning.reasons[0] == "monthly purchases down at least 30 % and no login for 15 days"
    assert warning.score == pytest.approx(1 - 0.4 * 0.5 * 0.6)


def test_a_rule_needs_every_condition_and_known_facts() -> None:
    # purchases fell but the customer logged in recently: no warning
    assert evaluate_warnings(RULES, facts(purchase_change_30d=-0.5, days_since_login=3)).score == 0
    # no purchase month to fall from: unknown, so the rule stays silent
    assert evaluate_warnings(RULES, facts(days_since_login=90)).rule_ids == ()
    assert evaluate_warnings(RULES, facts(complaints_90d=1)).rule_ids == ()


def test_more_firing_rules_never_lower_the_score() -> None:
    one = evaluate_warnings(RULES, facts(complaints_90d=3)).score
    two = evaluate_warnings(RULES, facts(complaints_90d=3, unsubscribed_90d=1)).score
    assert 0 < one < two < 1


def test_bad_rule_documents_are_refused_with_pointers() -> None:
    with pytest.raises(ChurnRulesInvalid) as error:
        parse_rules(
            {
                "rules": [
                    {"id": "a", "weight": 2, "all": [{"fact": "nope", "op": "~", "value": "x"}]},
                    {"id": "a", "all": []},
                ],
                "extra": True,
            },
            facts=FEATURES,
        )
    assert {p.pointer for p in error.value.problems} == {
        "/extra",
        "/rules/0/weight",
        "/rules/0/all/0/fact",
        "/rules/0/all/0/op",
        "/rules/0/all/0/value",
        "/rules/1/id",
        "/rules/1/all",
    }
