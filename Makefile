# Set-up and entry points. `make main` and `make test` are all a fresh machine needs (see README.md).
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# Optional extras: Ray for the search's Ray executor (the tests cover it, so `make test` installs it).
$(VENV)/.ray-installed: $(VENV)/.installed requirements-ray.txt
	$(VENV)/bin/pip install -q -r requirements-ray.txt
	touch $@

# The Arm toolchain and QEMU (Debian packages) for compile/: installed only when missing.
# --no-install-recommends keeps it to ~300 MB instead of 3.3 GB.
ARM_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup toolchain main full test test-all bench
setup: $(VENV)/.installed toolchain

toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
	    || [ ! -f "$$(arm-none-eabi-gcc -print-file-name=libc_nano.a)" ]; then \
	  echo "installing $(ARM_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(ARM_PACKAGES); \
	fi

main: setup
	$(PY) -m experiments.main --config=configs/main.py --workdir=runs/main

full: setup
	$(PY) -m experiments.main --config=configs/main.py:full --workdir=runs/full

test: setup $(VENV)/.ray-installed
	$(PY) -m pytest -q

test-all: setup $(VENV)/.ray-installed
	$(PY) -m pytest -q -m ""

bench: setup
	$(PY) -m benchmarks.throughput
