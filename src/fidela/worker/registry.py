"""The worker's registry: every context that has jobs registers them here."""

from __future__ import annotations

from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.worker.builtin import register_builtin_jobs


def build_registry(settings: Settings) -> JobRegistry:
    registry = JobRegistry()
    register_builtin_jobs(registry, settings)
    return registry
