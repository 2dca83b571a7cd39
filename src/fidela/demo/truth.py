"""The known truth written next to the data: per-customer parameters and run parameters.

``truth/customers`` holds, per customer, the draws the data was generated from (purchase rate,
dropout probability, spend scale) and what became of them (first purchase, dropout, alive at the
end), plus ``exposure_days``: the operational time between the trial purchase and the end, i.e.
the ``T`` of BG/NBD for that customer. ``truth/parameters.json`` holds the population parameters
and the definitions of units, so a model can be checked against the process that made the data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fidela.demo.config import GenerationConfig
from fidela.demo.customers import Profiles
from fidela.demo.frames import Frame
from fidela.demo.purchases import (
    FREE_SHIPPING_FROM,
    MIN_REDEMPTION,
    POINT_VALUE_MINOR,
    SHIPPING_FEE,
    WELCOME_POINTS,
    Behaviour,
)


def truth_frame(profiles: Profiles, behaviour: Behaviour, p_spend: float) -> Frame:
    """Per-customer truth of a block, aligned on its customers."""
    return {
        "customer": profiles.index,
        "lam": behaviour.lam,
        "p": behaviour.p,
        "nu": behaviour.nu,
        "buys": behaviour.buys,
        "first": behaviour.first_hours,
        "dropout": behaviour.dropout_hours,
        "alive": behaviour.alive_at_end,
        "expected_value": np.rint(p_spend / behaviour.nu).astype(np.int64),
        "exposure": behaviour.exposure_days,
    }


def parameters_document(config: GenerationConfig, version: str) -> dict[str, Any]:
    """Contents of ``truth/parameters.json``."""
    truth = config.truth
    return {
        "generator_version": version,
        "seed": config.seed,
        "customers": config.customers,
        "window_start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "population": dataclasses.asdict(truth),
        "derived": {
            "mean_purchase_rate_per_day": truth.r / truth.alpha,
            "mean_dropout_probability": truth.a / (truth.a + truth.b),
            "mean_order_value_minor": truth.mean_order_value_minor,
        },
        "definitions": {
            "time": (
                "Timestamps are UTC. The window runs from window_start 00:00 UTC (first "
                "possible signup) to end 00:00 UTC (exclusive): nothing happens at or after it."
            ),
            "operational_time": (
                "Purchases are a Poisson process in operational days: calendar time mapped "
                "through the cumulative seasonal intensity of the customer's channel (store or "
                "online) in their time zone, normalised so that the window has as many "
                "operational as calendar days. BG/NBD counts hold exactly in operational time."
            ),
            "lambda_per_day": (
                "lambda ~ Gamma(shape=r, rate=alpha): repeat purchases per operational day "
                "while alive"
            ),
            "dropout_p": (
                "p ~ Beta(a, b): probability of dropping out after each repeat purchase "
                "(never after the trial purchase)"
            ),
            "nu": "nu ~ Gamma(shape=q, rate=gamma) per customer, in 1/cents",
            "order_value": (
                "target order value z ~ Gamma(shape=p_spend, rate=nu) in EUR cents; baskets "
                "are filled toward z"
            ),
            "expected_order_value_minor": "p_spend / nu, EUR cents",
            "exposure_days": (
                "operational days from the first (trial) purchase to end: the T of BG/NBD"
            ),
            "first_purchase_at": (
                "the trial purchase (BG/NBD time 0); null if the customer never buys or "
                "would first buy after end"
            ),
            "dropout_at": (
                "time of the repeat purchase after which the customer dropped out; null if "
                "alive at end"
            ),
            "alive_at_end": (
                "buys and has not dropped out by end (also true for buyers whose trial "
                "purchase falls after end)"
            ),
            "money": "int minor units (EUR cents), currency EUR",
            "points": (
                f"a welcome bonus of {WELCOME_POINTS} points, then 1 point per whole euro of "
                "eligible spend (gift cards excluded, after discount), earned after payment; "
                f"1 point redeems {POINT_VALUE_MINOR} cent; redemptions of at least "
                f"{MIN_REDEMPTION} points, never more than earned so far"
            ),
            "shipping": (
                f"{SHIPPING_FEE} cents on online orders with less than {FREE_SHIPPING_FROM} "
                "cents of physical goods"
            ),
            "total_minor": "subtotal + shipping - discount; the card pays total - points_redeemed",
            "fraud_orders": (
                "orders of the fraud patterns are extra rows outside the BG/NBD process; "
                "see truth/fraud"
            ),
        },
    }
