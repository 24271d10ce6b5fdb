"""A NaN in a request body is a client mistake: a problem naming the field, never a 500."""

from tests.api.conftest import Api

RAW = (
    '{"metadata": {"name": "nan-site"}, "spec": {"edge_type": "mec", "region": "eu", '
    '"country": "DE", "location": {"latitude": 50, "longitude": 8}, '
    '"capacity": {"cpu": 4, "memory_mb": 4096}, "cost_per_hour": NaN}}'
)


def test_nan_cost_is_refused_with_the_field_named(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/edge/nodes", content=RAW, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert "cost_per_hour" in answer.text and answer.json()["status"] == 422
