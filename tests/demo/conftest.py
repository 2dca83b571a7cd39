"""Fixtures of the demo generator tests: one shared data set, generated once per session.

3,000 customers (three blocks) with a raised fraud share (2 %) so every fraud pattern occurs;
the tests that check the buying truth leave fraudsters out.
"""

from __future__ import annotations

import pytest

from fidela.demo import GenerationConfig, TruthParameters, generate
from tests.demo.dataset import Dataset

SHARED_CUSTOMERS = 3_000
SHARED_SEED = 20_261_031


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    config = GenerationConfig(
        customers=SHARED_CUSTOMERS,
        seed=SHARED_SEED,
        out_dir=tmp_path_factory.mktemp("demo") / "out",
        chunk_size=2_000,
        truth=TruthParameters(fraud_share=0.02),
    )
    return Dataset(config=config, report=generate(config))
