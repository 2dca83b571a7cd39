"""Experiments: deterministic assignment, holdouts, the global control group, statistics."""
