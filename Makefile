# distillx — every command a user needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The hub is unreachable on the machines this project targets; fail fast instead of retrying for a minute.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true
export HF_HUB_DISABLE_PROGRESS_BARS ?= 1
export TOKENIZERS_PARALLELISM ?= false
MLFLOW_DB ?= outputs/mlflow.db

.PHONY: help install lock apertium demo test test-slow lint ui bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create .venv and install distillx with its test tools (versions pinned by constraints.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -c constraints.txt -e ".[dev]"
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then $(MAKE) apertium; \
	else echo "translator=apertium needs Debian's apertium apertium-eng-spa: run 'make apertium' as root"; fi

lock:  ## re-pin constraints.txt to the packages in .venv (after upgrading them and seeing make test pass)
	{ grep '^#' constraints.txt; echo "torch==$$($(BIN)/python -c 'import torch; print(torch.__version__.split("+")[0])')"; \
	$(BIN)/pip freeze --exclude-editable | grep -v '^torch=='; } > constraints.txt.new && mv constraints.txt.new constraints.txt

apertium:  ## install the Apertium MT engine and its English-Spanish pair (Debian/Ubuntu, as root)
	apt-get update
	apt-get install -y --no-install-recommends apertium apertium-eng-spa

demo:  ## run the embedded multilingual demo (FreeTransfer-X, en -> zh), print the results table
	$(BIN)/distillx

test:  ## the default test suite (fast: a few minutes on 2 cores)
	$(BIN)/python -m pytest -m "not slow" -q

test-slow:  ## end-to-end tests that take minutes
	$(BIN)/python -m pytest -m slow -q

lint:  ## ruff
	$(BIN)/ruff check src tests benchmarks experiments tools
	$(BIN)/ruff format --check src tests benchmarks experiments tools

bench:  ## benchmarks, figures into benchmarks/RESULTS.md (kd_throughput needs: pip install -e ".[bench]")
	$(BIN)/python benchmarks/preprocess.py
	$(BIN)/python benchmarks/kd_throughput.py

ui:  ## MLflow UI on 127.0.0.1:5000 over the runs in outputs/; prints the address of the distillx runs table
	$(BIN)/python -m distillx.track.ui --store sqlite:///$(MLFLOW_DB) --experiment distillx --host 127.0.0.1 --port 5000

clean:  ## remove run outputs (keeps .venv and the model cache)
	rm -rf outputs/* multirun
