"""``/v1/analytics/objectives`` through the real app: SMART validation with pointers,
evaluation on the seed history, history, compare-and-set edits and archiving."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from fidela.platform.db import Database
from tests.analytics.test_cohorts_and_kpis import history
from tests.api.keys import issue
from tests.conftest import Clock

PATH = "/v1/analytics/objectives"
# The test clock reads 2026-11-02: the deadline is after it.
BODY = {
    "name": "More active members",
    "description": "Members who buy, after the loyalty relaunch",
    "kpi": "active_member_rate",
    "baseline": 0.3,
    "target": 0.8,
    "start": "2026-01-01",
    "deadline": "2026-12-31",
}


@pytest.fixture
def client(make_client: Callable[..., TestClient], database: Database, clock: Clock) -> TestClient:
    client = make_client()
    client.headers.update(issue(database, clock, "analytics:read", "analytics:write"))
    return client


def create(client: TestClient, **changes: object) -> dict[str, object]:
    response = client.post(PATH, json=BODY | changes)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_define_evaluate_and_read_an_objective_with_its_history(
    client: TestClient, connection: Connection
) -> None:
    history().insert(connection)
    made = create(client)
    assert (made["direction"], made["start"], made["version"]) == ("increase", "2026-01-01", 1)
    assert made["warnings"] == [
        "no KPI history for this segment to judge whether the target is achievable"
    ]
    response = client.post(f"{PATH}/{made['id']}/evaluate", params={"as_of": "2026-04-01"})
    assert response.status_code == 200, response.text
    evaluation = response.json()
    # March's 0.6 from 0.3 to 0.8 is 60 % of the way; the trend (.433333 + .1 i) passes 1
    # before December and is clamped to the rate's range.
    assert (evaluation["value"], evaluation["progress"], evaluation["forecast"]) == (
        0.6,
        0.6,
        1.0,
    )
    assert evaluation["status"] == "on_track"
    client.post(f"{PATH}/{made['id']}/evaluate", params={"as_of": "2026-03-01"})
    detail = client.get(f"{PATH}/{made['id']}").json()
    assert detail["latest"]["as_of"].startswith("2026-04-01")
    assert [e["as_of"][:10] for e in detail["history"]] == ["2026-04-01", "2026-03-01"]
    assert detail["history"][1]["progress"] == pytest.approx(0.6)  # February's 0.6 too
    assert detail["history"][1]["forecast"] is None
    listed = client.get(PATH).json()
    assert [item["id"] for item in listed["items"]] == [made["id"]]


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"kpi": "happiness"}, "/kpi"),
        ({"deadline": "2026-10-31"}, "/deadline"),  # before today, 2026-11-02
        ({"target": 0.3}, "/target"),  # equal to the baseline
        ({"target": "lots"}, "/target"),
        ({"segment_by": "rfm", "segment": "winners"}, "/segment"),
        ({"deadline": "31/12/2026"}, "/deadline"),
        ({"colour": "blue"}, "/colour"),
    ],
)
def test_an_objective_that_is_not_smart_is_a_422_pointing_at_the_field(
    client: TestClient, changes: dict[str, object], pointer: str
) -> None:
    response = client.post(PATH, json=BODY | changes)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert pointer in [error["pointer"] for error in response.json()["errors"]]


def test_patch_is_compare_and_set_and_delete_archives(client: TestClient) -> None:
    made = create(client)
    url = f"{PATH}/{made['id']}"
    changed = client.patch(url, json={"version": 1, "target": 0.1})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["direction"], changed.json()["version"]) == ("decrease", 2)
    assert client.patch(url, json={"version": 1, "name": "x"}).status_code == 409
    assert client.patch(url, json={"version": 2, "kpi": "orders"}).status_code == 422
    archived = client.delete(url)
    assert (archived.status_code, archived.json()["archived"]) == (200, True)
    assert client.get(PATH).json()["items"] == []
    assert len(client.get(PATH, params={"include_archived": "true"}).json()["items"]) == 1
    assert client.post(f"{url}/evaluate").status_code == 409
    assert client.get(f"{PATH}/999999").status_code == 404


def test_writing_objectives_needs_the_analytics_write_scope(
    make_client: Callable[..., TestClient], database: Database, clock: Clock
) -> None:
    reader = make_client()
    reader.headers.update(issue(database, clock, "analytics:read"))
    assert reader.post(PATH, json=BODY).status_code == 403
    assert reader.get(PATH).status_code == 200
