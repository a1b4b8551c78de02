"""docs/openapi.yaml is valid and served by the API (tests/stack/test_openapi_conformance.py holds the
running API to it with schemathesis)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from openapi_spec_validator import validate

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs" / "openapi.yaml"
ACME_ADMIN_KEY = json.loads((REPO / "data" / "tenants" / "acme.json").read_text())["demo_admin_key"]


def test_spec_is_valid_openapi_3_1():
    document = yaml.safe_load(SPEC.read_text())
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_of_the_app_is_in_the_spec():
    from app import app

    documented = yaml.safe_load(SPEC.read_text())["paths"]
    for path, entry in app.routes.items():
        for method in entry:
            assert method.lower() in documented.get(path, {}), f"{method} {path} is not in docs/openapi.yaml"


def test_the_api_serves_the_spec(api):
    response = api.client.http.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml"
    assert response.body.decode() == SPEC.read_text()
