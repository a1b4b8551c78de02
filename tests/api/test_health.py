"""Liveness and readiness through the HTTP API."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from chalice.test import Client
from moto import mock_aws

from chalicelib import clients
from chalicelib.models import TenantModel
from tests.conftest import Api


@pytest.fixture
def bare_api(aws_env):
    """The API over an AWS account with nothing in it: no tables, no parameters."""
    from app import app

    with mock_aws(), Client(app) as client:
        yield Api(client)


def test_health_answers_without_any_dependency(bare_api):
    response = bare_api.get("/health")
    assert (response.status_code, response.data) == (200, {"status": "ok"})


def test_ready_when_dynamodb_and_ssm_answer(api):
    response = api.get("/health/ready")
    assert (response.status_code, response.data) == (200, {"status": "ok", "checks": {"dynamodb": "ok", "ssm": "ok"}})


def test_ready_without_the_flag_parameter_is_still_ready(api):
    clients.client("ssm").delete_parameter(Name="/cartwise/dev/flags/UPSELL_ENABLED")
    assert api.get("/health/ready").status_code == 200


def test_not_ready_without_the_tenants_table(bare_api):
    response = bare_api.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.data == {
        "error": {
            "code": "UNAVAILABLE",
            "message": "A dependency is not ready.",
            "details": {"checks": {"dynamodb": "error", "ssm": "ok"}},
        }
    }


class Unreachable:
    def __init__(self, service: str) -> None:
        self.exceptions = clients.client(service).exceptions

    def describe_table(self, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    def get_parameter(self, **kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter")


@pytest.mark.parametrize(
    ("broken", "checks"),
    [
        ({"ssm"}, {"dynamodb": "ok", "ssm": "error"}),
        ({"dynamodb"}, {"dynamodb": "error", "ssm": "ok"}),
        ({"dynamodb", "ssm"}, {"dynamodb": "error", "ssm": "error"}),
    ],
)
def test_not_ready_names_the_failing_dependency(api, monkeypatch, broken, checks):
    real = clients.probe
    monkeypatch.setattr(clients, "probe", lambda service: Unreachable(service) if service in broken else real(service))
    response = api.get("/health/ready")
    assert (response.status_code, response.data["error"]["code"]) == (503, "UNAVAILABLE")
    assert response.data["error"]["details"] == {"checks": checks}


def test_health_reads_no_tenant_data(api, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("health must not read tenants")

    monkeypatch.setattr(TenantModel, "get", forbidden)
    monkeypatch.setattr(TenantModel, "query", forbidden)
    assert api.get("/health").status_code == 200
    assert api.get("/health/ready").status_code == 200


def test_ready_reuses_its_answer_for_a_few_seconds(api, monkeypatch):
    """Probes within CACHE_SECONDS share one DescribeTable and one GetParameter; a failure is reused too."""
    from chalicelib import health

    now = [1000.0]
    monkeypatch.setattr(health, "_clock", lambda: now[0])
    real = clients.probe
    probed: list[str] = []
    broken: set[str] = set()

    def counting(service):
        probed.append(service)
        return Unreachable(service) if service in broken else real(service)

    monkeypatch.setattr(clients, "probe", counting)
    assert [api.get("/health/ready").status_code for _ in range(3)] == [200, 200, 200]
    assert probed == ["dynamodb", "ssm"]

    broken.add("dynamodb")
    now[0] += health.CACHE_SECONDS - 0.1
    assert api.get("/health/ready").status_code == 200  # still the answer of 4.9 s ago
    now[0] += 0.1
    response = api.get("/health/ready")
    assert (response.status_code, response.data["error"]["details"]) == (
        503,
        {"checks": {"dynamodb": "error", "ssm": "ok"}},
    )
    assert probed == ["dynamodb", "ssm", "dynamodb", "ssm"]

    broken.clear()
    assert api.get("/health/ready").status_code == 503  # the failure is reused as well
    now[0] += health.CACHE_SECONDS
    assert api.get("/health/ready").status_code == 200
    assert len(probed) == 6
