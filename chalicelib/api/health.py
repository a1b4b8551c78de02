from functools import cache
from pathlib import Path

from chalice import Response

from chalicelib.api import ApiBlueprint

blueprint = ApiBlueprint(__name__)

# A link to docs/openapi.yaml, so the one spec ships inside the Lambda package.
OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def openapi_document() -> str:
    return OPENAPI_PATH.read_text()


@blueprint.route("/health", methods=["GET"])
def health() -> dict:
    return {"status": "ok"}


@blueprint.route("/openapi.yaml", methods=["GET"])
def openapi() -> Response:
    return Response(openapi_document(), headers={"Content-Type": "application/yaml"})
