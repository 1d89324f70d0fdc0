# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-embedded lint format migrations-check install chromium bubblewrap jq clean vendor

$(STAMP): requirements.txt requirements-dev.txt requirements.lock clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c requirements.lock
	touch $(STAMP)

install: $(STAMP)

run: install bubblewrap
	$(PY) manage.py migrate --noinput
	$(PY) -m synchronise.run

# Browser tests need Debian's Chromium; install it once if it is missing.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The sandbox wraps its zygote in bubblewrap's namespaces when `bwrap` is present (docs/sandbox.md).
bubblewrap:
	@command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap)

# The guide's shell examples pick fields out of JSON with jq; tests/test_docs_samples.py runs them.
jq:
	@command -v jq >/dev/null || (apt-get update -qq && apt-get install -y -qq jq)

test: install chromium bubblewrap jq
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

vendor:
	./static/vendor/build.sh

clean:
	rm -rf $(VENV) var test-artifacts
