# Everything runs inside a project-local virtual environment built from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck sample bench bench-history faults dashboard clean

# pip prints a line per package (no silent minute on a first run)
$(STAMP): pyproject.toml
	@echo "== building $(VENV) from pyproject.toml (about a minute, once) =="
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar off --upgrade pip
	$(PY) -m pip install --progress-bar off -e '.[dev,dask]'
	touch $(STAMP)
	@echo "== $(VENV) ready =="

## run: replay the embedded sample log; writes logs/state/*_v6.json and the hourly
## history logs/state/history_v6.sqlite, and prints the ranking
run: $(STAMP)
	$(PY) -m execution.intel replay logs/samples/router_metrics.jsonl.gz --state-dir logs/state

## test: the whole suite (lint, types, tests)
test: $(STAMP) lint typecheck
	$(PY) -m pytest -q -n auto --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

## dashboard: a dry run of the executor (intel on) into logs/demo/, its state served on
## http://127.0.0.1:8501 (logs/state, written by make run, is left alone)
dashboard: $(STAMP)
	$(PY) -m execution.executor_live --dry-run --seed 7 --sim-hours 336 --out logs/demo --intel on
	$(PY) -m dashboard --state-dir logs/demo/state

## bench: benchmarks (figures only; they assert nothing about time)
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.bench_streaming
	$(PY) -m benchmarks.bench_follow
	$(PY) -m benchmarks.bench_robustness
	$(PY) -m benchmarks.bench_intel

## bench-history: the history store on a year hourly x 500 symbols (about 15 minutes, 1.4 GB
## in a temporary folder; benchmarks/RESULTS-history.md)
bench-history: $(STAMP)
	$(PY) -m benchmarks.bench_history

## faults: the fault-injection suite alone (EI_SOAK=1 for 100 crash trials)
faults: $(STAMP)
	$(PY) -m pytest -q tests/faults

## sample: regenerate logs/samples/ with the deterministic dry-run executor
sample: $(STAMP)
	$(PY) -m execution.executor_live --dry-run --seed 7 --sim-hours 336 --out logs/samples/run
	gzip -n -9 -c logs/samples/run/execution/router_metrics.jsonl > logs/samples/router_metrics.jsonl.gz
	rm -rf logs/samples/run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis logs/state logs/execution \
		logs/demo
