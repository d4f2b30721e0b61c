"""Operational endpoints: health and the OpenAPI document."""

from __future__ import annotations

from tests.entrypoints.http.conftest import Live


def test_health(live: Live) -> None:
    with live.client() as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ok"


def test_openapi_lists_the_intake_paths(live: Live) -> None:
    with live.client() as client:
        response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/v1/intake/{intake_id}"]
    assert "get" in paths["/v1/intake/{intake_id}/work/{work_id}"]
