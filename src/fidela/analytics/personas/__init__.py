"""Personas: k-means on standardised behavioural features, with a card per cluster."""
