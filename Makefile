# Rapport: `make help` lists the targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
# llama.cpp built for any x86-64 with AVX2, not for the build machine (GGML_NATIVE):
# a native build on a CPU with AMX runs `ldtilecfg` and dies of a general protection
# fault on the first completion where the kernel does not grant AMX state (seen here).
# Built without pip's wheel cache, which may hold a native build of the same version.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: help setup run test browser lint bench bench-peers stack-up stack-down stack-status clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(BIN)/pip install -q --no-cache-dir "$$(grep -o 'llama-cpp-python\[server\][^"]*' pyproject.toml)"
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install -q -e '.[llm,dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install Rapport with the local LLM and dev extras

run: setup ## the main job: local stack up, a worker, a replay of real data, live view
	$(BIN)/rapport stack up
	$(BIN)/rapport run

test: setup $(PEERS_STAMP) browser ## the test suite against the real local stack (started by the fixtures)
	$(BIN)/python -m pytest

browser: ## Debian's chromium for the console's browser tests (installed when missing)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

lint: setup ## ruff, mypy --strict and the import-layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: setup ## benchmarks with a bare aiokafka baseline in the same run
	$(BIN)/rapport stack up --no-llm
	$(BIN)/rapport bench

$(PEERS_STAMP): pyproject.toml
	$(PY) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install -q --upgrade pip
	$(PEERS_VENV)/bin/pip install -q "$$(grep -o 'quixstreams[^"]*' pyproject.toml)"
	touch $(PEERS_STAMP)

bench-peers: setup $(PEERS_STAMP) ## Rapport beside Quix Streams (own venv) and a bare loop
	$(BIN)/rapport stack up --no-llm
	$(BIN)/rapport bench peers --events $${EVENTS:-200000}

stack-up: setup ## start Kafka, Redis and the LLM server
	$(BIN)/rapport stack up

stack-down: ## stop what `stack up` started
	$(BIN)/rapport stack down

stack-status: ## each service with the version it reports
	$(BIN)/rapport stack status

clean: stack-down ## stop the stack and delete local state (.rapport)
	rm -rf .rapport
