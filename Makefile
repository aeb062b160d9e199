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
STAMP := $(VENV)/.bigraph-installed

.PHONY: setup run test lint docs clean-venv

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install setuptools wheel
	$(PIP) install $(TORCH_PINS)
	$(PIP) install --no-build-isolation $(EXT_PINS)
	$(PIP) install -e '.[all]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) examples/train_bigraph.py

test: setup
	$(PY) -m pytest -q

docs: setup
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: setup
	$(PY) -m ruff check bigraph_pyg tests examples benchmarks

clean-venv:
	rm -rf $(VENV)
