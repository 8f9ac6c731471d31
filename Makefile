# make demo / make test create .venv on a fresh machine and do everything.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: venv demo test lint bench bench-env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m unisr.bench.demo --out runs/demo --shared $(SHARED)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest --durations=15

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks || true

# the graph benchmark's peer venv (benchmarks/.env-graph: torch-scatter/torch-sparse built from source, slow)
bench-env:
	bash benchmarks/setup_graph_peer_env.sh

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
