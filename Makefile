# Rapport: `make help` lists the targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup run test lint bench stack-up stack-down stack-status clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install -q -e '.[llm,dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install Rapport with the local LLM and dev extras

run: setup ## the main job: local stack up, a worker, a replay of real data, live view
	$(BIN)/rapport stack up
	$(BIN)/rapport run

test: setup ## the test suite against the real local stack (started by the fixtures)
	$(BIN)/python -m pytest

lint: setup ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup ## benchmarks with a bare aiokafka baseline in the same run
	$(BIN)/rapport stack up --no-llm
	$(BIN)/rapport bench

stack-up: setup ## start Kafka, Redis and the LLM server
	$(BIN)/rapport stack up

stack-down: ## stop what `stack up` started
	$(BIN)/rapport stack down

stack-status: ## each service with the version it reports
	$(BIN)/rapport stack status

clean: stack-down ## stop the stack and delete local state (.rapport)
	rm -rf .rapport
