from __future__ import annotations

from pathlib import Path

import pytest

from fidela.analytics.churn.features import BehaviourTables, connect_parquet
from tests.analytics.churn.demo import export_as_sources, generate_demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 demo customers: enough buyers for a stable AUC in a few seconds."""
    return generate_demo(tmp_path_factory.mktemp("churn") / "demo", customers=3_000, seed=7)


@pytest.fixture(scope="session")
def demo_tables(demo_dir: Path) -> BehaviourTables:
    return connect_parquet(str(demo_dir))


@pytest.fixture(scope="session")
def demo_export(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same customers as an ``fidela analytics export`` directory."""
    return export_as_sources(demo_dir, tmp_path_factory.mktemp("churn") / "export")
