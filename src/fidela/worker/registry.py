"""The worker's registry: every context that has jobs registers them here."""

from __future__ import annotations

from fidela.analytics.jobs import register_analytics_jobs
from fidela.engagement.campaigns.jobs import register_campaign_jobs
from fidela.engagement.jobs import register_engagement_jobs
from fidela.engagement.journeys.jobs import register_journey_jobs
from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.segment.jobs import register_segment_jobs
from fidela.worker.builtin import register_builtin_jobs
from fidela.worker.loyalty import register_loyalty_jobs


def build_registry(settings: Settings) -> JobRegistry:
    registry = JobRegistry()
    register_builtin_jobs(registry, settings)
    register_analytics_jobs(registry, settings)
    register_engagement_jobs(registry, settings)
    register_journey_jobs(registry, settings)
    register_campaign_jobs(registry, settings)
    register_segment_jobs(registry, settings)
    register_loyalty_jobs(registry, settings)
    return registry
