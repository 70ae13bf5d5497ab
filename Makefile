# Jobdeck: `make run` to try it, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
PORT ?= 5000

.PHONY: run test fuzz lint format bench bench-peers screenshots clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/flask db upgrade
	$(BIN)/flask users ensure-admin
	$(BIN)/flask demo --first-run
	$(BIN)/flask schedule install-defaults > /dev/null
	@echo "Jobdeck on http://127.0.0.1:$(PORT)  (Ctrl-C stops the web server and the consumer)"
	@bash -c 'trap "kill 0" INT TERM EXIT; $(BIN)/flask queue work & $(BIN)/flask run --host 127.0.0.1 --port $(PORT)'

test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

# The API fuzzer alone, with more examples per operation than `make test` gives it.
FUZZ_EXAMPLES ?= 100
fuzz: $(VENV)/.installed-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/test_fuzz_api.py $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The README's screenshots, taken by the browser tests (needs Debian's chromium).
screenshots: $(VENV)/.installed-dev
	JOBDECK_SCREENSHOTS=docs $(BIN)/pytest -q tests/e2e/test_browser.py -k "dashboard or progress or failure_groups or why_it_waits"

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Jobdeck against Celery, RQ, Procrastinate and Dramatiq, which live in a venv of their own.
PEERS_VENV := .venv-peers
$(PEERS_VENV)/.installed: bench/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/pip install --quiet -r bench/peers/requirements.txt
	touch $@

bench-peers: $(VENV)/.installed-dev $(PEERS_VENV)/.installed
	$(BIN)/python -m bench.peers $(BENCH_PEERS_ARGS)

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache
