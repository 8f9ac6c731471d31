"""USR GLMT diagnosis of a trained run: per scenario, the CTCVR and CTR test AUC of the product
ŷ = ŷ_|g · ŷ_g (eq. 12), of ŷ_g alone (the backbone's global prediction) and of ŷ_|g alone (the main MLP),
and ŷ_g's AUC against the global label. Without GLMT only the product column is meaningful (others 0.5).

    .venv/bin/python benchmarks/usr_glmt.py RUN_DIR DATA_DIR

Used for docs/models/usr.md, "Why USR lowers CTCVR on four backbones".
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from unisr.evaluate.metrics import auc
from unisr.pipeline.pipeline import Pipeline
from unisr.pipeline.run_folder import load_run

# column -> the model output it reads (absent without GLMT: 0, i.e. AUC 0.5)
OUTPUTS = {"p_click": "click", "p_ctcvr": "ctcvr", "g_click": "global_click", "g_buy": "global_buy",
           "c_click": "usr/cond_click", "c_ctcvr": "usr/cond_ctcvr"}


def collect(run: Path, data: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    cfg, enc, net = load_run(run)
    pipe = Pipeline.open(cfg, data, enc)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("sid", "click", "ctcvr", "gclick", "gbuy", *OUTPUTS)}
    with torch.inference_mode():
        for b in pipe.batches("test"):
            o = net(b)
            lab = b.labels
            cols["sid"].append(b.scenario_id.numpy())
            cols["click"].append(lab["click"].numpy())
            cols["ctcvr"].append((lab["click"] * lab["conversion"]).numpy())
            cols["gclick"].append(lab["global_click"].numpy())
            cols["gbuy"].append(lab["global_buy"].numpy())
            for k, src in OUTPUTS.items():
                cols[k].append(o[src].numpy() if src in o else np.zeros(len(b), np.float32))
    return {k: np.concatenate(v) for k, v in cols.items()}, enc.schema.scenarios


def main() -> None:
    torch.set_num_threads(1)
    c, names = collect(Path(sys.argv[1]), Path(sys.argv[2]))
    for s in np.unique(c["sid"]):
        m = c["sid"] == s
        print(f"{names[s]:12s} n={m.sum()} ctcvr+={int(c['ctcvr'][m].sum())} gbuy+={int(c['gbuy'][m].sum())}")
        for task, y, g, keys in (("CTCVR", "ctcvr", "gbuy", ("p_ctcvr", "g_buy", "c_ctcvr")),
                                 ("CTR", "click", "gclick", ("p_click", "g_click", "c_click"))):
            aucs = " ".join(f"{k}={auc(c[y][m], c[k][m]):.4f}" for k in keys)
            print(f"   {task} {aucs} | g vs global label {auc(c[g][m], c[keys[1]][m]):.4f}")


if __name__ == "__main__":
    main()
