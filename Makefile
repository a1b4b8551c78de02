# The README's two promises: `make run` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test test-fast test-compose lint format bench clean

UV := $(VENV)/bin/uv

# Every install comes from a lock with hashes (`make lock` writes them): uv first, with pip, from its
# own lock; then the whole development environment from requirements-dev.lock, exactly (uv pip sync
# also removes what the lock no longer names). uv installs it in about a fifth of pip's time.
$(UV): requirements-uv.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-uv.txt
	touch $@

$(VENV)/.installed: $(UV) requirements-dev.lock
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements-dev.lock
	touch $@

# ESLint for the storefront and the console, exactly as package-lock.json pins it (npm ci writes this file last).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed node_modules/.package-lock.json

# What `make run` needs (Python 3.11, Java, Node, npm, its fixed ports free), checked with the system
# Python before anything is created or installed: one line per problem (scripts/prerequisites.py).
.PHONY: prerequisites
prerequisites:
	@command -v $(PYTHON) >/dev/null || { echo "ERROR: $(PYTHON) is not on PATH: make run needs Python 3.11 (https://www.python.org/downloads/ or your package manager)" >&2; exit 1; }
	@$(PYTHON) -m scripts.prerequisites

# Sub-makes, one after the other: a target's prerequisites run in parallel under -j, a recipe's lines never.
run:
	@$(MAKE) --no-print-directory prerequisites
	@$(MAKE) --no-print-directory install
	$(PY) -m scripts.local_stack

# Style (ruff, ESLint over storefront/ and console/), the layers of docs/architecture.md (import-linter contracts in pyproject.toml) and types.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node_modules/.bin/eslint .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Every tier (tests/unit, api, stack, packaging, browser, docs; see tests/conftest.py).
# The unit and moto tiers over every CPU first (as test-fast), then the tiers that share the session's one
# local stack (one JVM) in one process, browser first: stack tests add products to the demo shops, whose
# catalogues the browser tests count.
test: lint
	node --test tests/storefront/*.test.js tests/console/*.test.js
	$(PY) -m pytest tests/unit tests/api -n auto -q
	$(PY) -m pytest tests/browser tests/docs tests/packaging tests/stack

# The edit loop: tests/unit and tests/api only (no servers, no browser, no packaging), one worker per CPU.
test-fast: install
	node --test tests/storefront/*.test.js tests/console/*.test.js
	$(PY) -m pytest tests/unit tests/api -n auto -q

# The storefront's and the console's unit tests (tests/storefront, tests/console: node:test, no dependency, no
# browser); test and test-fast run them too.
.PHONY: test-storefront
test-storefront:
	node --test tests/storefront/*.test.js tests/console/*.test.js

# `docker compose up` for real: engine, Compose v2 and stand-in images prepared as needed, a journey
# against the stack, then `docker compose down -v` (compose/run.py; as root; 75 s warm, 8 min cold).
test-compose: install
	$(PY) -m compose.run

# The cloud rehearsal: `make deploy STAGE=prod` against LocalStack with its Lambdas run in containers, a
# journey through the API Gateway URL, `make destroy` and what is left checked (cloud/run.py; as root;
# docs/deploy.md says what it proves and what only AWS can; about 3 min warm).
.PHONY: test-cloud
test-cloud: install
	$(PY) -m cloud.run

# The README's and docs/console.md's screenshots, retaken from a fresh local stack (Chromium).
.PHONY: screenshots
screenshots: install
	$(PY) docs/images/take_screenshot.py
	$(PY) docs/images/take_console_screenshots.py

# The figures of docs/performance.md, measured on this machine (loopback only, about 10 minutes).
bench: install
	$(PY) -m bench.run

# Regenerate every lock from its inputs, keeping each pin that still fits (UPGRADE=1 moves them all
# to the newest releases): the development lock, uv's own, the deploy job's (which is also the Lambda
# package's, for the Lambda platform), the compose app image's and the cloud rehearsal's Lambda runtime
# stand-in's, each within the development lock.
LOCK := $(UV) pip compile --quiet --generate-hashes --python-version 3.11 $(if $(UPGRADE),--upgrade)
.PHONY: lock
lock: $(UV)
	$(LOCK) --python-platform linux requirements-dev.txt -o requirements-dev.lock
	$(LOCK) --python-platform linux --constraints requirements-dev.lock requirements-uv.txt -o requirements-uv.txt
	cd infra && ../$(LOCK) --python-platform x86_64-manylinux2014 --constraints ../requirements-dev.lock \
		deploy-requirements.in -o deploy-requirements.txt
	cd localstack && ../$(LOCK) --python-platform x86_64-manylinux2014 --constraints ../requirements-dev.lock \
		requirements-compose.txt -o requirements-compose.lock
	cd cloud/images && ../../$(LOCK) --python-platform x86_64-manylinux2014 --constraints ../../requirements-dev.lock \
		lambda-runtime.in -o lambda-runtime.txt

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache .hypothesis

# Cloud, see docs/deploy.md: `make deploy STAGE=prod [SEED=1]`, `make destroy STAGE=prod [YES=1]`.
DEPLOY_STAGE = $(or $(STAGE),prod)

.PHONY: package deploy destroy

package: install
	$(PY) -m scripts.deploy package --stage $(DEPLOY_STAGE)

deploy: install
	$(PY) -m scripts.deploy deploy --stage $(DEPLOY_STAGE) $(if $(SEED),--seed)

destroy: install
	$(PY) -m scripts.deploy destroy --stage $(DEPLOY_STAGE) $(if $(YES),--yes)
