# The two commands of the README: `make demo` runs the main job, `make test` runs every test.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install services demo test lint bench emulator lock

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

# The hash-locked dependencies the image installs (runtime with the tracing extra, so that OTEL_* variables
# turn traces on in the image; the emulator's), for Linux and Python 3.11 like the image. Pins already in the files are kept; `make lock LOCK_FLAGS=--upgrade` moves them.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
	--python-platform linux --custom-compile-command "make lock" $(LOCK_FLAGS)

lock: install
	$(LOCK) --extra tracing -o requirements.lock
	$(LOCK) --extra tracing --extra emulator --constraint requirements.lock -o requirements-emulator.lock
