"""Engagement: channels, brand kit and templates, campaigns, journeys, caps, delivery, tracking."""
