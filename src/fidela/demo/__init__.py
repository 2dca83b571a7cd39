"""Deterministic demo data: a retailer's customers, purchases and activity with known truth.

`generate` writes tables (Parquet and/or CSV) of customers, stores, products, orders, order
lines, returns, sessions, email events, support interactions, survey answers, reviews, social
shares and referrals, plus the truth they were drawn from (``truth/customers``,
``truth/fraud``, ``truth/parameters.json``) and a ``manifest.json`` with checksums. Purchases
follow BG/NBD with Gamma-Gamma spend, so models can be tested against the truth; fraud patterns
are injected and labelled. Same config, same bytes.
"""

from __future__ import annotations

from fidela.demo.config import GenerationConfig, TruthParameters
from fidela.demo.generator import GenerationReport, generate

__all__ = ["GenerationConfig", "GenerationReport", "TruthParameters", "generate"]
