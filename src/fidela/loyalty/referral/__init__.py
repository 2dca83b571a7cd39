"""Referral: codes and links per member, referrals from claim to reward, fraud review.

``service`` persists; the fraud checks are the pure ``fidela.loyalty.rules.referral``.
"""
