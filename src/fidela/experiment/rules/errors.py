"""Errors of the experiment context."""

from __future__ import annotations

from fidela.kernel.errors import DomainError


class InvalidExperiment(DomainError):
    code = "invalid_experiment"
    title = "The experiment is not valid"
