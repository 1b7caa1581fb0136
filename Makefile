# Set-up and entry points. `make main` and `make test` are all a fresh machine needs (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

.PHONY: setup main full test test-all bench
setup: $(VENV)/.installed

main: setup
	$(PY) -m experiments.main --config=configs/main.py --workdir=runs/main

full: setup
	$(PY) -m experiments.main --config=configs/main.py:full --workdir=runs/full

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ""

bench: setup
	$(PY) -m benchmarks.throughput
