# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app.py

.PHONY: run serve test e2e lint format bench clean

# The Nu HTML Checker for the end-to-end suite: vnu.jar from the npm package `vnu-jar`, pinned.
VNU_VERSION := 26.9.27

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.installed $@

# Without npm the HTML validity tests skip, saying why; everything else still runs.
$(VENV)/.vnu-$(VNU_VERSION): | $(BIN)/python
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix $(VENV)/vnu --no-save --no-audit --no-fund --ignore-scripts \
	    --loglevel=error vnu-jar@$(VNU_VERSION) && touch $@; \
	else \
	  echo "npm not found: vnu.jar is not installed; the HTML validity tests will be skipped."; \
	fi

# Development server: debug mode, mail to instance/outbox/. The first run writes a random
# SECRET_KEY into instance/config.py (git-ignored), shared by the server and every flask command.
run: $(VENV)/.installed
	$(BIN)/python -m newsletter.instance_key instance/config.py
	$(BIN)/flask db upgrade
	$(BIN)/flask run --debug --host 127.0.0.1 --port 5000

# Production server: granian (chosen with bench/pages.py; figures in the README's Deployment).
# Keep-alive, threads per worker, and a worker answers while another one restarts.
PORT ?= 8000
WEB_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
SERVE_APP ?= app:create_app
SERVE_THREADS ?= 4
SERVE_OPTIONS ?=
SERVE_COMMAND = $(BIN)/granian --interface wsgi --factory $(SERVE_APP) \
  --host 127.0.0.1 --port $(PORT) --workers $(WEB_WORKERS) --blocking-threads $(SERVE_THREADS) \
  --http 1 --no-ws --respawn-failed-workers --workers-kill-timeout 10 $(SERVE_OPTIONS)

# Builds the app once before the workers do, so a configuration error (no SECRET_KEY, say) is
# its one sentence rather than a traceback from every worker.
define SERVE_CHECK
from app import create_app
from newsletter.config import ConfigError
try:
    create_app()
except ConfigError as error:
    raise SystemExit(str(error))
endef
export SERVE_CHECK

# Production settings whatever the shell has: no debug, no test mode. SECRET_KEY=... also works.
serve: export FLASK_DEBUG := 0
serve: export FLASK_TESTING := false
ifdef SECRET_KEY
serve: export FLASK_SECRET_KEY ?= $(SECRET_KEY)
endif
serve: $(VENV)/.installed
	@$(BIN)/python -c "$$SERVE_CHECK"
	@$(BIN)/flask db upgrade
	exec $(SERVE_COMMAND)

test: $(VENV)/.installed-dev $(VENV)/.vnu-$(VNU_VERSION)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The end-to-end stories alone (tests/e2e): `make e2e`, or one story: `make e2e STORY=story4`.
e2e: $(VENV)/.installed-dev $(VENV)/.vnu-$(VNU_VERSION)
	$(BIN)/pytest -m e2e tests/e2e $(if $(STORY),-k '$(STORY)')

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/signup.py
	$(BIN)/python bench/send.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
