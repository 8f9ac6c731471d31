#!/usr/bin/env bash
# Creates benchmarks/.env-graph (git-ignored by a `*` .gitignore inside it): torch 2.13.0 (the CPU wheel on
# this machine's disk), torch_geometric, and torch-scatter + torch-sparse BUILT FROM SOURCE (no wheels exist
# for torch 2.13), plus unisr -e and what `unisr.graph` imports, so that benchmarks/graph_sampling.py runs
# PyG's NeighborLoader (its CPU path needs pyg-lib or torch-sparse) next to our samplers in one process.
# Never touches .venv; `make test` does not depend on it.
#
#   bash benchmarks/setup_graph_peer_env.sh          # or: make bench-env
#
# The C++ builds run under `nice -n 19` with MAX_JOBS=1 (the machine is shared); measured here: see
# docs/BENCHMARKS.md (graph engine). They run `setup.py` in the venv itself (no isolated build environment,
# which would fetch a CUDA torch from PyPI instead of compiling against the installed CPU torch).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
env="$here/.env-graph"
py="${PYTHON:-python3.11}"
jobs="${MAX_JOBS:-1}"
niceness="${NICE:-19}"  # NICE=0 on a quiet machine

if [ ! -x "$env/bin/python" ]; then
  "$py" -m venv "$env"
  printf '*\n' > "$env/.gitignore"
fi
pip=("$env/bin/pip" install --disable-pip-version-check -q)

"${pip[@]}" --upgrade pip setuptools wheel
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" "numpy>=1.26" "scipy>=1.11" "numba>=0.60" "torch_geometric==2.8.1"
# unisr without its deps (they would pull everything), then what unisr.graph needs at import time
"${pip[@]}" --no-deps -e "$root"
"${pip[@]}" "pydantic>=2.6" "pyyaml>=6" "polars>=1.0" "pyarrow>=15" "rich>=13" "typer>=0.12" "faiss-cpu>=1.8"

# Each package is unpacked into $env/src/<name> and built there, so its object files survive an interrupted
# build (a re-run skips every extension module whose .so is already built). CFLAGS=-g0 drops the debug
# info that Python's CFLAGS ask for (faster compile, same code; seen taking effect for torch-sparse, while
# torch-scatter's compile lines kept -g). The two builds run side by side, each MAX_JOBS=1 under nice 19.
build() {  # $1 = name, $2 = version; compiled against the installed torch, CPU only
  local name=$1 ver=$2 src="$env/src/$1-$2" log="$env/build-$1.log" t0 t1
  "$env/bin/python" -c "import ${name//-/_}" 2>/dev/null && { echo "$name already built"; return 0; }
  if [ ! -f "$src/setup.py" ]; then
    mkdir -p "$env/src"
    "$env/bin/pip" download --disable-pip-version-check -q --no-deps --no-build-isolation --no-binary :all: -d "$env/src" "$name==$ver"
    tar -xzf "$env/src/${name//-/_}-$ver.tar.gz" -C "$env/src" 2>/dev/null || tar -xzf "$env/src/$name-$ver.tar.gz" -C "$env/src"
    [ -d "$src" ] || mv "$env/src/${name//-/_}-$ver" "$src"
  fi
  t0=$(date +%s)
  if (cd "$src" && FORCE_CUDA=0 MAX_JOBS="$jobs" CFLAGS="-g0" nice -n "$niceness" "$env/bin/python" setup.py bdist_wheel \
        > "$log" 2>&1 && "$env/bin/pip" install --disable-pip-version-check -q --no-deps dist/*.whl >> "$log" 2>&1); then
    t1=$(date +%s)
    echo "built $name $ver in $((t1 - t0)) s (wall, nice $niceness, MAX_JOBS=$jobs)" | tee -a "$env/build-times.txt"
  else
    echo "BUILD FAILED: $name $ver (log: $log)"; tail -30 "$log"; return 1
  fi
}
build torch-scatter 2.1.2 & p1=$!
build torch-sparse 0.6.18 & p2=$!
rc=0
wait $p1 || rc=1
wait $p2 || rc=1
[ $rc -eq 0 ] || exit 1

"$env/bin/python" - <<'EOF'
import torch
import torch_geometric
import torch_geometric.typing as t
import torch_scatter
import torch_sparse

import unisr.graph  # noqa: F401

assert "+cpu" in torch.__version__ or not torch.cuda.is_available(), torch.__version__
assert t.WITH_TORCH_SPARSE, "torch_geometric does not see torch_sparse"
print(f"benchmarks/.env-graph ready: torch {torch.__version__}, torch_geometric {torch_geometric.__version__},"
      f" torch_scatter {torch_scatter.__version__}, torch_sparse {torch_sparse.__version__}")
EOF
