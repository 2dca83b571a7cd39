"""CDNOW data as shipped with lifetimes (read from its package files: ``lifetimes.datasets``
itself cannot be imported, it needs pkg_resources).

- ``CDNOW_sample.txt``: the 1/10th sample of the CDNOW cohort (2,357 customers who first bought
  in Q1 1997), one line per transaction: master id, sample id, date (YYYYMMDD), CDs, dollars;
- ``cdnow_customers_summary.csv``: the published calibration summary of that sample (39 weeks
  to 1997-09-30, recency and T in weeks rounded to 2 decimals);
- ``cdnow_customers_summary_with_transactions.csv``: the same with the mean repeat spend.
"""

from __future__ import annotations

import datetime
import importlib.resources

import pandas as pd
import pytest

CALIBRATION_END = datetime.date(1997, 9, 30)
HOLDOUT_END = datetime.date(1998, 6, 30)


def _dataset(name: str) -> str:
    return str(importlib.resources.files("lifetimes") / "datasets" / name)


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    frame = pd.read_csv(
        _dataset("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "amount"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(_dataset("cdnow_customers_summary.csv"))


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    return pd.read_csv(_dataset("cdnow_customers_summary_with_transactions.csv"))
