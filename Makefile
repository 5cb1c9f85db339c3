# The two commands of the README: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# `make test`'s pytest processes (pytest-xdist; 0: one process). More than the 2 cores of the
# development machines: the browser and server tests spend much of their time waiting on
# Chromium and gunicorn (docs/PERFORMANCE.md, "Test suite duration").
TEST_WORKERS ?= 3
# More options for both pytest runs of `make test`, e.g. PYTEST_ARGS=--durations=0.
PYTEST_ARGS ?=
# `make run` is the demo on this machine: development settings (a key kept in instance/).
RUN_ENV := DEFI_ENV=development

.PHONY: install run test lint format bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(RUN_ENV) $(BIN)/defi db upgrade
	$(RUN_ENV) $(BIN)/defi demo --if-empty
	@echo "Serving on http://$(HOST):$(PORT)"
	$(RUN_ENV) $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The stress tests (marked `slow`: 8 writer processes, gunicorn and 32 clients) alone
	@# first, since beside other tests they measure the machine's load; then all the others in
	@# parallel. Both run even when the first fails; the target fails if either did. pytest's
	@# 5 (no test selected, e.g. PYTEST_ARGS=-k that matches no stress test) is no failure; its
	@# 2 (interrupted, Ctrl-C) stops at once.
	status=0; \
	$(BIN)/pytest -m slow -p no:xdist $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 2 ]; then exit 2; elif [ $$status -eq 5 ]; then status=0; fi; \
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS) || \
	  { last=$$?; [ $$last -eq 5 ] || status=$$last; }; \
	exit $$status

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
