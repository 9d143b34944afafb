# `make run` runs PAS; `make test` passes the tests. Both work from a clean clone with Python 3.11+ and a C compiler.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint fmt bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet packaging
	bash .ci/ensure-llama-cpp $(BIN)
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/pas up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/pas contracts export --check
	$(BIN)/pas agents install --check --url http://127.0.0.1:6100

test: lint
	bash .ci/ensure-chromium
	bash .ci/ensure-claude-code >/dev/null
	$(BIN)/pytest --durations=15 $(PYTEST_ARGS)

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/heartbeats.py

clean:
	rm -rf $(VENV) artifacts .mypy_cache .ruff_cache .pytest_cache
