# feria developer tasks.
#
# Every target is self-contained on a fresh machine: it creates (or installs)
# whatever it needs first, so `make test` works on a clean checkout of a fresh
# Debian box as well as on a developer's laptop.  Run `make` or `make help` for
# the list of targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

# Interpreter used to create the virtualenv (feria needs Python >= 3.11).
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# Marks a venv whose packages match requirements.lock and every pyproject.toml.
VENV_STAMP := $(VENV)/.installed

# Plugins are discovered, never listed: any plugins/<name>/pyproject.toml is
# installed editable next to feria and its dependencies go into the lock.
PLUGIN_PYPROJECTS := $(wildcard plugins/*/pyproject.toml)
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGIN_PYPROJECTS))

LOCKFILE := requirements.lock
# Extra flags for `make lock`, e.g. `make lock LOCK_ARGS=--upgrade` to move
# every pin to the newest allowed version (by default existing pins are kept).
LOCK_ARGS ?=
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x -k cashbox"`.
PYTEST_ARGS ?=

LOCALE_DIR := src/feria/locale
LOCALES := es pt_BR

# Run privileged commands through sudo unless we already are root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# ---------------------------------------------------------------------------
# System (apt) packages the test suite needs.
#
# TEST_APT_PACKAGES lists Debian packages; for each one, TEST_APT_CHECK_<pkg>
# is a shell test that succeeds when it is already present, so nothing is
# installed (and no sudo is needed) on a machine that has everything.
#
# The browser tests (tests/browser) drive Debian's headless Chromium through
# Playwright's Python package; Playwright's own browser downloads are never used.
# ---------------------------------------------------------------------------
TEST_APT_PACKAGES := postgresql chromium
TEST_APT_CHECK_postgresql := compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
TEST_APT_CHECK_chromium := command -v chromium >/dev/null

.PHONY: help
help: ## Show this list of targets
	@echo "feria make targets:"
	@grep -hE '^[a-zA-Z0-9_. -]+:.*## ' $(MAKEFILE_LIST) \
	  | sort \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

# --- virtualenv -------------------------------------------------------------

# Bootstrap: a bare venv with uv in it.  The uv version pinned in the lock is
# preferred so every machine resolves and installs with the same uv.
$(UV):
	$(PYTHON) -m venv $(VENV)
	uv_pin="$$(grep -E '^uv==' $(LOCKFILE) 2>/dev/null || true)"; \
	  $(VENV_PY) -m pip install --quiet --disable-pip-version-check "$${uv_pin:-uv}"
	@touch $@

$(VENV_STAMP): $(UV) $(LOCKFILE) pyproject.toml $(PLUGIN_PYPROJECTS)
	$(UV) pip sync --python $(VENV_PY) $(LOCKFILE)
	$(UV) pip install --python $(VENV_PY) --no-deps -e . $(addprefix -e ,$(PLUGIN_DIRS))
	@touch $@

.PHONY: venv .venv
venv .venv: $(VENV_STAMP) ## Create/refresh .venv from requirements.lock (+ feria and plugins editable)

# --- dependencies -----------------------------------------------------------

# The lock pins the third-party closure of feria[test] and of every plugin,
# for any platform (--universal) on Python >= 3.11.  feria and the plugins
# are resolved from their local source trees (the plugins may depend on
# feria) but left out of the file: the venv installs them editable.  uv itself
# is pinned too so that `uv pip sync` does not uninstall it.
.PHONY: lock
lock: $(UV) ## Re-resolve requirements.lock from pyproject.toml files (LOCK_ARGS=--upgrade to bump)
	local_names="$$($(VENV_PY) -c 'import sys, tomllib; print(" ".join(tomllib.load(open(p, "rb"))["project"]["name"] for p in sys.argv[1:]))' pyproject.toml $(PLUGIN_PYPROJECTS))"; \
	no_emit=""; for name in $$local_names; do no_emit="$$no_emit --no-emit-package $$name"; done; \
	printf '%s\n' '-e .[test]' $(addprefix '-e ./',$(PLUGIN_DIRS)) uv \
	  | $(UV) pip compile - --universal --python-version 3.11 \
	      --output-file $(LOCKFILE) --custom-compile-command 'make lock' \
	      --quiet $$no_emit $(LOCK_ARGS)

# --- system packages --------------------------------------------------------

.PHONY: system-deps-test
system-deps-test: ## Install the Debian packages the tests need (PostgreSQL, Chromium) if missing
	@missing=""; \
	$(foreach pkg,$(TEST_APT_PACKAGES),if ! ( $(or $(TEST_APT_CHECK_$(pkg)),dpkg -s $(pkg) >/dev/null 2>&1) ); then missing="$$missing $(pkg)"; fi;) \
	if [ -n "$$missing" ]; then \
	  echo "Installing test system packages:$$missing"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
	  echo "Test system packages present: $(TEST_APT_PACKAGES)"; \
	fi

# --- quality ----------------------------------------------------------------

.PHONY: lint
lint: $(VENV_STAMP) ## Check style: ruff check + ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: fmt
fmt: $(VENV_STAMP) ## Reformat and autofix: ruff format + ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# pytest exit status 5 means "no tests collected"; that must never pass as
# green, so it is reported and returned as a failure like any other status.
# (The suite starts its own throwaway PostgreSQL; see feria.testing.pgserver.)
.PHONY: test
test: system-deps-test $(VENV_STAMP) lint ## Install what is missing, lint, then run pytest (PYTEST_ARGS=...)
	@status=0; $(VENV_PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then \
	  echo "ERROR: pytest collected no tests (exit status 5); treating this as a failure." >&2; \
	fi; \
	exit "$$status"

# --- running ----------------------------------------------------------------

.PHONY: demo
demo: $(VENV_STAMP) ## Run the demo fair (SQLite, demo data) on http://127.0.0.1:8000
	$(VENV)/bin/feria demo

.PHONY: bench
bench: $(VENV_STAMP) ## Run the benchmarks (python -m bench)
	$(VENV_PY) -m bench

# --- translations -----------------------------------------------------------

.PHONY: i18n
i18n: $(VENV_STAMP) ## Extract messages and update the es / pt_BR catalogues (feria's and each plugin's own)
	mkdir -p $(LOCALE_DIR)
	@# feria's catalogue: its code, its themes, and the plugins without a catalogue of their own
	dirs="src themes"; \
	for plugin in plugins/*; do \
	  ls -d $$plugin/src/*/locale >/dev/null 2>&1 || dirs="$$dirs $$plugin"; \
	done; \
	$(VENV)/bin/pybabel extract -F babel.cfg -o $(LOCALE_DIR)/messages.pot $$dirs
	for locale in $(LOCALES); do \
	  if [ -f $(LOCALE_DIR)/$$locale/LC_MESSAGES/messages.po ]; then \
	    $(VENV)/bin/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale; \
	  else \
	    $(VENV)/bin/pybabel init -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale; \
	  fi; \
	done
	@# a plugin with its own catalogue (src/<package>/locale) extracts with its own babel.cfg
	for dir in plugins/*/src/*/locale; do \
	  [ -d "$$dir" ] || continue; \
	  plugin=$${dir%%/src/*}; domain=$$(basename $$(dirname $$dir)); \
	  $(VENV)/bin/pybabel extract -F $$plugin/babel.cfg -o $$dir/$$domain.pot $$plugin/src; \
	  for locale in $(LOCALES); do \
	    $(VENV)/bin/pybabel update -D $$domain -i $$dir/$$domain.pot -d $$dir -l $$locale; \
	  done; \
	done

.PHONY: i18n-compile
i18n-compile: $(VENV_STAMP) ## Compile the .po catalogues to .mo (not committed)
	$(VENV)/bin/pybabel compile -d $(LOCALE_DIR)

# --- housekeeping -----------------------------------------------------------

.PHONY: clean
clean: ## Remove the venv, caches, build outputs and test artifacts
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis artifacts dist build
	find . -name '*.egg-info' -prune -exec rm -rf {} +
	find . -name '__pycache__' -prune -exec rm -rf {} +
