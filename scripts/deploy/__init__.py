"""Package, deploy and destroy a Cartwise stage on AWS: `make package|deploy|destroy STAGE=prod`.

Three layers, each its own module:

packaging  (`scripts.deploy.packaging`) `chalice package --merge-template infra/template.yml` on a
           staging copy of the app, with the Lambda runtime's libraries left out of the zip, and wheels
           from a local cache so packaging again needs no network; then cfn-lint.
template   (`scripts.deploy.template`) what Chalice cannot express, applied to the packaged template:
           each function's policy checked and waited for, stream sources pointed at the stack's tables
           and checked for their failure handling, one log group per function, every role capped by
           the permissions boundary.
aws        (`scripts.deploy.aws`) `aws cloudformation package|deploy` (through the CloudFormation
           service role when one is given), demo data, the storefront upload behind CloudFront, and
           `destroy`, which says what it keeps.

`python -m scripts.deploy` is the command line (scripts/deploy/__main__.py). See docs/deploy.md and
docs/decisions/0007-deploy.md, docs/decisions/0013-deploy-trust-model.md.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


class DeployError(RuntimeError):
    """A step failed; the message says which and why."""


def stack_name(stage: str) -> str:
    return f"cartwise-{stage}"
