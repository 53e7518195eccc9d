# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need into it; `make test` also
# installs Debian's chromium for the browser tests and promtool for the alerting-rule tests.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test chromium promtool lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Marker files: reinstall only when pyproject.toml changes. The demo trains CatBoost (the
# treatment config's models), an extra of its own; the tests need every extra.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[catboost]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/tabloop demo

# tests/test_layers.py runs lint-imports too, so a layer breach fails the suite
test: $(VENV)/.installed-dev chromium promtool
	$(BIN)/python -m pytest -n 2

# The browser tests drive Debian's chromium: install it when missing (as root, or with sudo).
# When that is impossible say so and go on: the other tests still run, the browser tests
# then fail with the same hint.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else sudo=none; fi; \
	  if [ "$$sudo" != none ] && command -v apt-get >/dev/null 2>&1 \
	     && $$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium; then :; \
	  else echo "make test: could not install chromium (needs apt-get, and root or sudo);" \
	    "the browser tests will fail until 'apt-get install chromium' is run."; fi; }

# The alerting-rule tests run Debian's promtool (package prometheus), installed the same way;
# without it they are skipped with the same hint.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else sudo=none; fi; \
	  if [ "$$sudo" != none ] && command -v apt-get >/dev/null 2>&1 \
	     && $$sudo apt-get update -qq \
	     && $$sudo apt-get install -y -qq --no-install-recommends prometheus; then :; \
	  else echo "make test: could not install promtool (needs apt-get, and root or sudo);" \
	    "the alerting-rule tests are skipped until 'apt-get install prometheus' is run."; fi; }

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e '.[all,dev,bench]'
	$(BIN)/python benchmarks/validate_speed.py
	$(BIN)/python benchmarks/train_quality.py --repeats 3
	$(BIN)/python benchmarks/serve_latency.py
	$(BIN)/python benchmarks/serve_durability.py
	$(BIN)/python benchmarks/batch_scoring.py --rows 200000 2000000
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/scale.py --monitor

clean:
	rm -rf $(VENV) tabloop-demo .pytest_cache
