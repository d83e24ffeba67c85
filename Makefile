# Two commands from nothing: `make demo` and `make test`.
# Only python3 >= 3.11 and make are assumed; uv is bootstrapped into .tools/ when it is
# not on PATH, and everything else lives in .venv/ inside this checkout.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

# Never download a Python build: use the interpreter this machine already has.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

RUN := $(UV) run --frozen

.PHONY: help demo test soak lint typecheck unit install install-dev clean

help:
	@echo "make demo   - install and run the main job against the built-in sandbox"
	@echo "make test   - install the dev environment, then lint, type-check and run every test"
	@echo "make soak   - the reliability tests at soak size (200 kill points, a longer fault soak)"

.tools/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "stripe-cio needs python3 >= 3.11")'
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --inexact: the demo adds what it needs without removing a dev environment already there.
install: $(UV)
	$(UV) sync --frozen --no-dev --inexact

install-dev: $(UV)
	$(UV) sync --frozen

demo: install
	$(UV) run --frozen --no-dev stripe-cio demo

lint: install-dev
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install-dev
	$(RUN) mypy

unit: install-dev
	$(RUN) pytest

test: lint typecheck unit

# The reliability tests at their large sizes (tests marked `soak`; see docs/reliability.md).
soak: install-dev
	RELIABILITY_SOAK=1 $(RUN) pytest tests/reliability -m soak -s

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
