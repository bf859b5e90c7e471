# landemu: the two README commands (`make demo`, `make test`) set everything up by themselves
# on a fresh Debian 12 machine and take seconds when it is already set up.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMPS  := .stamps
KERNELS := $(wildcard coupler/kernels/*.c coupler/kernels/*.h coupler/kernels/build.py)

.PHONY: all setup system venv kernels demo test lint bench clean

all: setup

## set-up ---------------------------------------------------------------------
setup: system venv kernels

system:
	@run/setup/system_packages.sh

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml setup.py run/setup/python_env.sh
	@PYTHON=$(PYTHON) run/setup/python_env.sh $(VENV)
	@mkdir -p $(STAMPS) && touch $@

kernels: $(STAMPS)/kernels
$(STAMPS)/kernels: $(STAMPS)/venv $(KERNELS)
	@$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

## the README commands --------------------------------------------------------
demo: setup
	@echo "landemu demo: not assembled yet" && false

test: setup
	$(VPY) -m pytest -q

## developer helpers ----------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check coupler emulators bindings tests run
	$(VENV)/bin/ruff format --check coupler emulators bindings tests run

bench: setup
	@for b in run/bench/*.py; do echo "== $$b"; $(VPY) $$b || exit 1; done

clean:
	rm -rf build $(STAMPS) coupler/_kernels*.so
