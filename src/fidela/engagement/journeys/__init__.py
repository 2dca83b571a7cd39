"""Journeys: event- or segment-triggered automations with per-customer state in the
database and a next wake-up time advanced by a worker job."""
