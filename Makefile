# The two commands of the README: `make demo` runs the main job, `make test` runs every test.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install services demo test lint bench emulator

$(BIN)/cbr-orchestrator: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/cbr-orchestrator

services:
	.ci/services

demo: install services
	$(BIN)/cbr-orchestrator demo

emulator: install
	$(BIN)/cbr-orchestrator emulator

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install services lint
	$(BIN)/pytest -q -n 3
