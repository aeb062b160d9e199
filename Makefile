# The README's two commands: `make run` (set up, then the main job) and
# `make test` (set up, then the test-suite).  Both start from a machine with
# no virtual environment: the first call builds .venv, later calls reuse it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch / torchvision pinned to the builds this project is tested with (they
# install from a local wheel cache in about a minute where one exists).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
# Source-only on PyPI: built against the installed torch (pip caches wheels).
EXT_PINS := torch-scatter==2.1.2 torch-sparse==0.6.18
# `make run` needs no compiled extension; `make test` adds torch-scatter /
# torch-sparse (peer implementations the tests compare against) and the
# dev/docs tools.
# Linted by `make test` (and so by CI) and `make lint`, with the ruff whose
# format the code follows (a newer ruff may format differently).
LINT_PINS := ruff==0.17.6
LINT_PATHS := bigraph_pyg tests examples benchmarks scripts docs/conf.py
RUN_STAMP := $(VENV)/.bigraph-run
TEST_STAMP := $(VENV)/.bigraph-test

.PHONY: setup run test lint docs clean-venv

$(RUN_STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install setuptools wheel
	$(PIP) install $(TORCH_PINS)
	$(PIP) install -e '.[mesh,smpl,train,data]'
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) install --no-build-isolation $(EXT_PINS)
	$(PIP) install -e '.[all]' $(LINT_PINS)
	touch $(TEST_STAMP)

setup: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(PY) examples/train_bigraph.py

test: $(TEST_STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m pytest -q

docs: $(TEST_STAMP)
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(TEST_STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)

clean-venv:
	rm -rf $(VENV)
