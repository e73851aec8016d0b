# govchain developer commands. Set-up is implicit: every target that needs the virtualenv
# builds it from requirements.lock first, so `make run` and `make test` work on a fresh machine.
#
#   make run     install into .venv, start the embedded demo node (API on 127.0.0.1:8700)
#   make test    install, then ruff, ruff format --check, mypy, pytest
#   make bench   run the benchmarks
#   make lint    ruff + mypy only;  make fmt  rewrite code with ruff
#   make lock    regenerate requirements.lock from pyproject.toml
#   make clean   remove .venv, caches and var/

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# Python 3.11 is required (pyproject: requires-python = ">=3.11,<3.12").
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3.11)
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check

# Debian packages the test suite needs (checked with dpkg, installed only when missing): etcd for
# the network tests, Chromium and a Chinese font for the portal's browser tests and screenshots.
TEST_DEB_PACKAGES := etcd-server chromium fonts-wqy-microhei

# pytest processes (pytest-xdist); a test file runs whole in one of them, so its module fixtures
# (a node, a demo network, a browser) are made once. Much of the suite waits on subprocesses
# and servers: two workers on this 2-core machine took it from ~15 to ~8.5 minutes.
TEST_WORKERS ?= 2

# Paths the linters look at; bench/ may not exist yet in a fresh clone.
LINT_PATHS := $(wildcard src tests bench)

# Tool used by `make lock`, installed in a throwaway venv (never in .venv).
UV_VERSION := 0.13.9
LOCK_TOOL_VENV := build/lock-tool

.PHONY: help .venv venv deb-deps test lint fmt run bench lock clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# --- environment -------------------------------------------------------------------------

.venv venv: $(VENV_STAMP)

# Re-runs only when the lock or pyproject.toml changes. Installs on top of an existing venv
# (other shells may be using it); `make clean` gives a from-scratch rebuild.
$(VENV_STAMP): requirements.lock pyproject.toml
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	    echo "error: Python 3.11 is required; '$(PYTHON)' is $$("$(PYTHON)" --version 2>&1)." >&2; \
	    echo "       Install python3.11 or run: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	@if [ -x "$(BIN)/python" ] && ! "$(BIN)/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
	    echo "$(VENV) is broken or not Python 3.11: recreating it"; rm -rf "$(VENV)"; fi
	@if [ ! -x "$(BIN)/python" ]; then \
	    if ! "$(PYTHON)" -c 'import ensurepip' 2>/dev/null; then \
	        echo "ensurepip is missing (Debian splits it out): installing python3.11-venv"; \
	        bash scripts/ensure-debian-packages.sh python3.11-venv; \
	    fi; \
	    echo "creating $(VENV) with $(PYTHON)"; \
	    "$(PYTHON)" -m venv "$(VENV)"; \
	fi
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --progress-bar off --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .
	@touch $@

deb-deps:
	@bash scripts/ensure-debian-packages.sh $(TEST_DEB_PACKAGES)

# --- checks ------------------------------------------------------------------------------

# Every check runs even when an earlier one fails, so one CI run shows all problems.
# pytest's exit code 5 ("no tests collected") is a failure like any other.
test: .venv deb-deps
	@failed=(); \
	run() { echo "+ $$*"; "$$@" || { rc=$$?; failed+=("$$* (exit $$rc)"); }; }; \
	run $(BIN)/ruff check $(LINT_PATHS); \
	run $(BIN)/ruff format --check $(LINT_PATHS); \
	run $(BIN)/mypy; \
	run $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile; \
	if [ "$${#failed[@]}" -ne 0 ]; then \
	    printf 'FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi

lint: .venv
	@failed=(); \
	run() { echo "+ $$*"; "$$@" || { rc=$$?; failed+=("$$* (exit $$rc)"); }; }; \
	run $(BIN)/ruff check $(LINT_PATHS); \
	run $(BIN)/ruff format --check $(LINT_PATHS); \
	run $(BIN)/mypy; \
	if [ "$${#failed[@]}" -ne 0 ]; then \
	    printf 'FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi

fmt: .venv
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

# --- programs ----------------------------------------------------------------------------

run: .venv
	$(BIN)/govchain demo

bench: .venv
	$(BIN)/python -m bench

# --- maintenance -------------------------------------------------------------------------

# Resolves [project].dependencies + the dev extra for CPython 3.11 on this platform, from PyPI.
lock:
	@[ -x "$(LOCK_TOOL_VENV)/bin/uv" ] || { \
	    "$(PYTHON)" -m venv "$(LOCK_TOOL_VENV)" && \
	    "$(LOCK_TOOL_VENV)/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(LOCK_TOOL_VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
	    --python-version 3.11 --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) build dist var .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./.git -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune \
	    -exec rm -rf {} +
