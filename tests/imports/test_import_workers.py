"""Import worker processes: a worker that fails stops the import with its error."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from fidela.cli import context
from fidela.cli.import_workers import QUEUE_DEPTH, ImportFailed, Keyed, Units, Workers
from fidela.imports.service import ImportReport
from fidela.platform.settings import get_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDELA_DATABASE_URL", f"sqlite:///{tmp_path / 'workers.db'}")
    monkeypatch.setenv("FIDELA_CONFIG", str(tmp_path / "none.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    context.database.cache_clear()


def _fails_after_a_while(session: Session, units: Units) -> ImportReport:
    # Long enough for the parent to fill the worker's inbox and reach the end of the units.
    time.sleep(1.5)
    raise RuntimeError(f"row {units[0][0]} broke the worker")


def test_a_worker_that_fails_while_its_inbox_is_full_stops_the_import(settings: None) -> None:
    """Every chunk goes to the one key's worker; it fails on the first one while the parent
    waits to queue the end of the units behind a full inbox. The parent must report the
    failure, not wait for a worker that is gone."""
    workers = Workers(_fails_after_a_while, 2)
    chunks: list[Keyed] = [
        [("C1", (n * 1_000 + row, {"row": row})) for row in range(1_000)]
        for n in range(QUEUE_DEPTH + 1)
    ]
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            workers.run(iter(chunks), ImportReport(), lambda _rows: None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the import waited for a worker that had failed"
    assert len(outcome) == 1
    assert isinstance(outcome[0], ImportFailed)
    assert "row 0 broke the worker" in str(outcome[0])
