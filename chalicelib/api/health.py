from functools import cache
from pathlib import Path

from chalice import Response

from chalicelib import health as readiness
from chalicelib.api import ApiBlueprint

blueprint = ApiBlueprint(__name__)

# A link to docs/openapi.yaml, so the one spec ships inside the Lambda package.
OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def openapi_document() -> str:
    return OPENAPI_PATH.read_text()


@blueprint.route("/health", methods=["GET"])
def health() -> dict:
    """Liveness: answers without calling any dependency."""
    return {"status": "ok"}


@blueprint.route("/health/ready", methods=["GET"])
def ready() -> dict:
    """Readiness: DynamoDB and Parameter Store answer (503 UNAVAILABLE naming the failing ones)."""
    return {"status": "ok", "checks": readiness.readiness()}


@blueprint.route("/openapi.yaml", methods=["GET"])
def openapi() -> Response:
    return Response(openapi_document(), headers={"Content-Type": "application/yaml"})
