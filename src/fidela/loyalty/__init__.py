"""Programmes and earning rules: the rule engine that decides how many points an event earns."""
