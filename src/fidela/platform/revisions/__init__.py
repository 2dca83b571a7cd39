"""Configuration read on every group of events, kept per process while it has not changed."""
