# make demo / make test create .venv on a fresh machine and do everything.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared/data

.PHONY: venv demo test lint bench bench-env sim-recorded benchmarks-page clean

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

# the `small` simulation every benchmark record was made on (data version 1, fingerprint b475b4b1ebd2cc80), on
# any x86-64 CPU: numpy and OpenBLAS held to their AVX2 code paths (v1 depends on them; docs/SIMULATOR.md).
# v1 is asked for explicitly: `unisr simulate`'s default is data version 2 since issue 32.
# SIM_VERSION=2: data version 2 (CPU-independent, no switches needed; docs/SIMULATOR.md "Data version 2")
SIM ?= /tmp/sim_small
SIM_VERSION ?= 1
SIM_FP_1 := b475b4b1ebd2cc80
SIM_FP_2 := 7b156291b27949f3
sim-recorded: $(STAMP)
	if [ "$(SIM_VERSION)" = 1 ]; then \
		NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE=Haswell \
		$(BIN)/unisr simulate --preset small --seed 0 --set version=1 --out $(SIM); \
	else $(BIN)/unisr simulate --preset small --seed 0 --set version=$(SIM_VERSION) --out $(SIM); fi
	$(BIN)/python -c "from unisr.bench.fingerprint import data_fingerprint as f; fp = f('$(SIM)'); \
		print('fingerprint', fp); raise SystemExit(fp != '$(SIM_FP_$(SIM_VERSION))')"

# docs/BENCHMARKS.md from the benchmark output files in benchmarks/results/ (unisr.bench.page; reads no records)
benchmarks-page: $(STAMP)
	$(BIN)/unisr benchmark --page

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
