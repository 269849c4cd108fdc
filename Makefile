PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test bench bench-month bench-billing bench-cold install clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# planner profile's tests run on a CPU build of torch where this machine has one (a local
	@# wheel); a fresh resolve of torch would pull ~3 GB of CUDA wheels, so none is fetched.
	$(BIN)/python -m pip install --quiet 'torch==2.13.0+cpu' 2>/dev/null \
		|| echo "note: no CPU torch wheel here; tests/planner/test_profile.py will skip"
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/planner compare scenarios/fraud-scoring.yaml
	$(BIN)/planner compare scenarios/llm-chat.yaml
	$(BIN)/planner compare scenarios/nightly-recsys.yaml
	$(BIN)/planner compare scenarios/training-spot.yaml
	$(BIN)/planner compare scenarios/fleet-mix.yaml
	$(BIN)/planner compare scenarios/bert-serving.yaml --format html --output demo-report.html
	@echo "HTML report of scenarios/bert-serving.yaml: demo-report.html"

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kernels.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis demo-report.html

bench-month: $(STAMP)
	$(BIN)/python benchmarks/bench_month.py

bench-cold: $(STAMP)
	$(BIN)/python benchmarks/bench_cold_start.py

bench-billing: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_billing_review.py
	$(BIN)/python benchmarks/bench_billing_cli.py
