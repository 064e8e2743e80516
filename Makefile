# gonghui — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLER := $(VENV)/.installed-pip
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
# Branch coverage of the suite, printed by module and held to a floor (tests/coverage_floor.py).
COVERAGE := --cov=gonghui --cov-branch --cov-report=

.PHONY: run test check bench lock clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gonghui needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# The pip that `venv` ships is whatever came with this Python; it installs only the pinned,
# hash-checked pip, which then installs everything else.
$(INSTALLER): requirements-pip.lock | $(BIN)/python
	$(PIP) install --require-hashes --no-deps -r requirements-pip.lock
	touch $@

$(RUNTIME): requirements.lock pyproject.toml $(INSTALLER)
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

$(DEV): requirements-dev.lock pyproject.toml $(INSTALLER)
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps -e .
	touch $@ $(RUNTIME)

## Install, migrate the embedded SQLite database, load the demo federation once, serve on :8000
## with the worker that runs the scheduled and background jobs beside it.
run: $(RUNTIME)
	$(BIN)/gonghui db upgrade
	$(BIN)/gonghui demo load --if-empty
	$(BIN)/gonghui serve --with-worker

## The whole suite on SQLite; on PostgreSQL too with GONGHUI_TEST_POSTGRES_URL; browser tests
## when Chromium is there (GONGHUI_TEST_STRICT=1 turns every skip into a failure). The ID-number
## and roll tests run a second time under the commercial-cryptography scheme (GONGHUI_CRYPTO=sm).
test: $(DEV)
	rm -f .coverage
	$(BIN)/python -m pytest $(COVERAGE)
	GONGHUI_CRYPTO=sm $(BIN)/python -m pytest -p no:cacheprovider $(COVERAGE) --cov-append tests/core/test_clock_and_pii.py tests/members tests/test_rekey.py tests/web/test_roll.py
	$(BIN)/python -m tests.coverage_floor

check: $(DEV)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(DEV)
	$(BIN)/python -m benchmarks

## Re-resolve the pinned dependencies (needs uv: pip install uv).
lock:
	echo 'pip' | uv pip compile - --python-version 3.11 --generate-hashes --no-header -o requirements-pip.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -c requirements-dev.lock -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
