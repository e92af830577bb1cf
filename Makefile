# voice_agent — the two commands a user needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: install run test test-fast bench lint typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## install: the virtualenv and the pinned dependencies only
install: $(STAMP)

## run: start the agent on http://127.0.0.1:8000 with its embedded defaults
run: $(STAMP)
	$(VENV)/bin/voice-agent serve

## test: the whole suite (real sockets, real SQLite, real models, SIPp, PostgreSQL, Chromium),
## on TEST_WORKERS processes, a test file each: the real-time calls leave the cores half idle
TEST_WORKERS ?= 2
test: $(STAMP)
	@bash scripts/system-deps.sh
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

## test-fast: the pure unit tests only (no models)
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not models" -p no:cacheprovider

## bench: benchmarks; JSON results under bench/results/
bench: $(STAMP)
	@bash scripts/system-deps.sh bench
	$(PY) -m bench.run_all

lint: $(STAMP)
	$(VENV)/bin/ruff check voice_agent tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy voice_agent bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
