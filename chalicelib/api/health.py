from chalicelib.api import ApiBlueprint

blueprint = ApiBlueprint(__name__)


@blueprint.route("/health", methods=["GET"])
def health() -> dict:
    return {"status": "ok"}
