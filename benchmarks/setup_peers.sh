#!/usr/bin/env bash
# Creates benchmarks/.env (gitignored): torch 2.13.0 (CPU wheel), torch-rechub (peer) and unisr, in one venv,
# so that benchmarks/train_throughput.py runs both sides in the same process. Never touches .venv.
#
#   bash benchmarks/setup_peers.sh
#
# Order matters: torch is installed first (pip finds the local CPU wheel) so that nothing pulls a CUDA torch;
# torch-rechub is installed with --no-deps and its import-time deps (numpy, pandas, scikit-learn, tqdm:
# the Requires-Dist of torch-rechub 0.9.0 without extras) are installed explicitly.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
env="$here/.env"
py="${PYTHON:-python3.11}"

if [ ! -x "$env/bin/python" ]; then
  "$py" -m venv "$env"
fi
pip=("$env/bin/pip" install --disable-pip-version-check -q)

"${pip[@]}" "torch==2.13.0"
# the peer, without letting its metadata touch torch
"${pip[@]}" --no-deps "torch-rechub==0.9.0"
"${pip[@]}" "numpy>=1.26" "pandas>=1.2" "scikit-learn>=0.24" "tqdm>=4.60"
# our package and the runtime deps that `import unisr.models` / `unisr.train` need
"${pip[@]}" --no-deps -e "$root"
"${pip[@]}" "pydantic>=2.6" "pyyaml>=6" "polars>=1.0" "pyarrow>=15" "safetensors>=0.4" "rich>=13" \
  "typer>=0.12" "scipy>=1.11" "matplotlib>=3.8"

"$env/bin/python" - <<'EOF'
import torch
import torch_rechub
from torch_rechub.models.multi_task import MMOE, PLE  # noqa: F401

import unisr.models.registry  # noqa: F401

assert "+cpu" in torch.__version__ or not torch.cuda.is_available(), torch.__version__
print(f"benchmarks/.env ready: torch {torch.__version__}, torch-rechub {torch_rechub.__version__}")
EOF
