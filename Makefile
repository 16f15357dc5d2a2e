# The two commands of the README: `make run` (install, migrate, demo data, serve) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test test-deps lint bench clean

run: $(VENV)/.installed
	$(BIN)/helpdesk migrate
	$(BIN)/helpdesk demo
	$(BIN)/helpdesk serve

test: $(VENV)/.installed-test test-deps
	$(BIN)/python -m pytest

# Debian packages the tests drive for real (Chromium for the admin panel, Dovecot for mail);
# installed when we may (root, as in CI), otherwise those tests skip and say why.
test-deps:
	@sh .ci/install-debian-test-deps

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test
	$(BIN)/python bench/callback_latency.py --n 1000

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
