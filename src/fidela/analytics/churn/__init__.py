"""Churn risk: early-warning rules as configuration and a gradient-boosting model with reasons."""
