# Everything runs inside a project-local virtual environment built from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck sample bench faults dashboard clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

## run: replay the embedded sample log; writes logs/state/*_v6.json and prints the ranking
run: $(STAMP)
	$(PY) -m execution.intel replay logs/samples/router_metrics.jsonl.gz --state-dir logs/state

## test: the whole suite (lint, types, tests)
test: $(STAMP) lint typecheck
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

## dashboard: state of the sample run (executor + intel), served on http://127.0.0.1:8501
dashboard: $(STAMP)
	$(PY) -m execution.executor_live --dry-run --seed 7 --sim-hours 336 --out logs --intel on
	$(VENV)/bin/streamlit run dashboard/app.py --server.address 127.0.0.1 -- --state-dir logs/state

## bench: benchmarks (figures only; they assert nothing about time)
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.bench_streaming
	$(PY) -m benchmarks.bench_follow
	$(PY) -m benchmarks.bench_robustness
	$(PY) -m benchmarks.bench_intel

## faults: the fault-injection suite alone (EI_SOAK=1 for 100 crash trials)
faults: $(STAMP)
	$(PY) -m pytest -q tests/faults

## sample: regenerate logs/samples/ with the deterministic dry-run executor
sample: $(STAMP)
	$(PY) -m execution.executor_live --dry-run --seed 7 --sim-hours 336 --out logs/samples/run
	gzip -n -9 -c logs/samples/run/execution/router_metrics.jsonl > logs/samples/router_metrics.jsonl.gz
	rm -rf logs/samples/run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis logs/state logs/execution
