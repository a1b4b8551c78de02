"""What `import app` loads: the cold start of every function (API, authorizer, order stream) pays for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def modules_after_import_app() -> set[str]:
    code = "import json, sys, app; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


def test_import_app_loads_no_llm_client_no_parameters_utility_and_no_validation_library():
    loaded = modules_after_import_app()
    assert "app" in loaded
    assert "chalicelib.checkout" in loaded
    lazy = ("openai", "aws_lambda_powertools.utilities.parameters", "pydantic", "chalicelib.api.schemas")
    assert sorted(m for m in loaded if m.startswith(lazy)) == []
    # The notifier's e-mail building (templates, address checks, SMTP) waits for its first e-mail.
    assert "chalicelib.mail.notifier" in loaded
    mail_only = ("jinja2", "markupsafe", "email_validator", "smtplib", "email.headerregistry")
    assert sorted(m for m in loaded if m.startswith(mail_only)) == []
