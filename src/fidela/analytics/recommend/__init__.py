"""Recommendations: item-item cross-sell/upsell, popularity fallback, next-best-offer."""
