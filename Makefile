# Shortcuts; each target works on a fresh clone (it creates .venv when missing).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev install-bench demo run test lint bench bench-quick screenshots clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/python -m bot demo

run: install
	$(BIN)/python -m bot

test: install-dev
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

install-bench: install-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'

# Every benchmark with its same-run baseline; writes bench/RESULTS.md and bench/charts/*.png.
bench: install-bench
	$(BIN)/python bench/run_all.py

# The same suite, small: proves it still runs (CI), its numbers mean nothing.
bench-quick: install-bench
	BENCH_QUICK=1 $(BIN)/python bench/run_all.py

# Phone-sized pictures of three conversations (docs/screenshots/); needs Debian's chromium and
# an emoji font, installed here when missing. SUFFIX=_before names the files of a "before" run.
screenshots: install-dev
	command -v chromium >/dev/null || apt-get install -y chromium
	fc-list | grep -qi 'color emoji' || apt-get install -y fonts-noto-color-emoji
	$(BIN)/python -m bot.demo.screenshots docs/screenshots $(SUFFIX)
	rm -f docs/screenshots/*.html

clean:
	rm -rf $(VENV) build *.egg-info demo-output .pytest_cache .mypy_cache .ruff_cache
