"""Tier ladders, qualification windows and benefits."""
