"""Campaigns: one-off or scheduled sends to an audience, planned set-based."""
