# Set-up on a fresh machine is `make run` or `make test`: the first use builds .venv from the
# pinned requirements.lock, and it is rebuilt whenever requirements.lock or pyproject.toml change.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test bench lock checksums clean distclean

# --no-deps on both: install exactly the pinned versions and nothing unpinned; `pip check` then
# fails loudly if the lock is missing a dependency. A package dropped from the lock stays in an
# existing .venv; `make distclean` rebuilds from scratch.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r requirements.lock -e .
	$(BIN)/pip check
	touch $@

# The main job. report.pdf needs Chromium: scripts/ensure-chromium installs Debian's when it is
# missing (as root or through sudo); where it cannot, the HTML and Markdown reports are written
# and the PDF is skipped, with a note.
run: $(STAMP)
	@pdf=; if ! scripts/ensure-chromium; then \
		echo "note: no Chromium, so no report.pdf (see the error above), the rest of the job runs" >&2; pdf=--no-pdf; fi; \
	$(BIN)/matchsim run configs/august-2025.toml -o out/august-2025 --force $$pdf

# Benchmarks are collected too, run once each with timing disabled, so they cannot rot.
# Pass options through, e.g. `make test PYTEST_ARGS=--runslow`. The report tests drive a real
# headless Chromium, which scripts/ensure-chromium installs when it is missing.
test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Timed runs; each is saved as JSON under .benchmarks/<machine>/ for comparison, then printed
# as the Markdown table the README quotes (benchmarks/README.md).
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only \
		--benchmark-storage=file://.benchmarks --benchmark-autosave $(PYTEST_ARGS)
	$(BIN)/python benchmarks/report.py

# Re-resolve every dependency in a throwaway venv and pin the result, keeping the header.
lock:
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet -e '.[test,splink]'; \
	{ grep '^#' requirements.lock; "$$tmp/venv/bin/pip" freeze --exclude-editable; } > "$$tmp/requirements.lock"; \
	mv "$$tmp/requirements.lock" requirements.lock

# Record the size and SHA-256 of each reference data file (sim/common/reference.sha256) after changing
# one on purpose; matchsim refuses a file that no longer matches its record (exit code 3).
checksums: $(STAMP)
	$(BIN)/python -m sim.common.reference --write

clean:
	rm -rf out build .pytest_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .benchmarks *.egg-info
