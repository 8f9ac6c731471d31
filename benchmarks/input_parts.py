"""Which input groups help a deep model and which hurt it (issue 31: "a deep model below the GBDT on the same
inputs is a finding to explain"): DNN + match trained with parts of its input layer's output zeroed, every
scenario, the suite's budget, test AUC per scenario beside the observable-ceiling GBDT.

The parts of ``nn/embedding.py:FeatureEmbedding``'s output (one letter each): ``i`` the id fields (user_id,
item_id, trigger_item_id, target_user_id), ``a`` the other sparse fields (attributes), ``s`` the pooled
sequences (title terms, category path, query terms...), ``d`` the dense fields (item age, history counters),
``v`` the projected item vectors, ``m`` the match features (``model.match=true``). A variant keeps the
letters it names (``dm``: dense + match only; ``iasdvm``: everything). The zeroing is a forward hook on every
``FeatureEmbedding`` (``torch.nn.modules.module.register_module_forward_hook``), so the model, its training and
its evaluation are the registered DNN's; the scenario embedding outside the input layer is always kept.

    .venv/bin/python benchmarks/input_parts.py --data /tmp/sim_small --variants iasdvm dm dmi dma

Shapes:
    (no tensors) variants -> one run folder each under --runs -> benchmarks/results/input-parts.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
SCENARIOS = ("search_text", "search_visual", "search_similar", "feed_main", "feed_guess", "feed_deals", "feed_new")
ID_FIELDS = {"user_id", "item_id", "trigger_item_id", "target_user_id"}
BUDGET = ["train.max_steps_per_epoch=100", "data.batch_size=1024", "data.eval_batch_size=2048", "train.threads=1",
          "train.epochs=16", "train.progress=false", "model.match=true"]
PARTS = {"i": "ids", "a": "attributes", "s": "sequences", "d": "dense", "v": "vectors", "m": "match"}


def part_mask(emb, keep: str) -> torch.Tensor:
    """[out_dim] 1 for the columns of ``emb``'s output that belong to a kept part (the order of
    ``FeatureEmbedding.forward``: sparse fields by dimension group, sequences, dense, vectors, match)."""
    mask = torch.zeros(emb.out_dim)
    col = 0
    for g, table in enumerate(emb.groups):
        for fi in emb.group_fields[g]:
            part = "i" if emb.field_names[fi] in ID_FIELDS else "a"
            if part in keep:
                mask[col:col + table.embedding_dim] = 1
            col += table.embedding_dim
    for part, width in (("s", emb.seq_dim), ("d", emb.num_dense), ("v", emb.vectors.out_dim), ("m", emb.match_dim)):
        if part in keep:
            mask[col:col + width] = 1
        col += width
    assert col == emb.out_dim
    return mask


def train_variant(keep: str, data: Path, out: Path, sets: list[str]) -> dict:
    from unisr.nn.embedding import FeatureEmbedding
    from unisr.train.run import train_run

    def hook(module, _inputs, output):
        if isinstance(module, FeatureEmbedding):
            return output * part_mask(module, keep).to(output.dtype)
        return None

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        run = train_run("dnn", data, out, sets=[*BUDGET, *sets])
    finally:
        handle.remove()
    return run.metrics


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--variants", nargs="+", default=["iasdvm", "dm", "dmi", "dma"])
    ap.add_argument("--runs", type=Path, default=Path("runs/input-parts"))
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra key=value for every run")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "input-parts.json")
    args = ap.parse_args(argv)
    for v in args.variants:
        if not v or set(v) - set(PARTS):
            ap.error(f"--variants: {v!r}: letters among {''.join(PARTS)} ({PARTS})")
    sys.path.insert(0, str(ROOT))
    from machine import machine
    from unisr.bench.ceiling import load_ceiling
    from unisr.bench.fingerprint import data_fingerprint

    fp = data_fingerprint(args.data)
    gbdt = {sc: r["auc_no_position"] for sc, r in (load_ceiling(fp) or {}).items()}
    rows, runs = [], {}
    for v in args.variants:
        m = train_variant(v, args.data, args.runs / v, args.sets)
        aucs = {s: m["scenarios"][s]["auc"] for s in SCENARIOS if s in m["scenarios"]}
        runs[v] = {"keeps": [PARTS[c] for c in v], "best_epoch": m["best_epoch"], "auc": aucs,
                   "overall": m["overall"]["auc"]}
        rows.append([" + ".join(PARTS[c] for c in v), *(f"{aucs[s]:.4f}" if s in aucs else "-" for s in SCENARIOS),
                     f"{m['overall']['auc']:.4f}", str(m["best_epoch"])])
        print(rows[-1], flush=True)
    rows.append(["GBDT (observable ceiling, no position)", *(f"{gbdt[s]:.4f}" if s in gbdt else "-" for s in SCENARIOS),
                 "-", "-"])
    full = next((r for k, r in runs.items() if set(k) == set(PARTS)), None)
    best = max(runs.items(), key=lambda kv: kv[1]["overall"])
    figure = (f"best: {' + '.join(best[1]['keeps'])} overall {best[1]['overall']:.4f}"
              + (f" vs every part {full['overall']:.4f}" if full else ""))
    command = shlex.join([".venv/bin/python", "benchmarks/input_parts.py", *(sys.argv[1:] if argv is None else argv)])
    out = {"format": "unisr-benchmark/1", "benchmark": "input-parts",
           "title": "DNN + match with input groups removed: test AUC per scenario (issue 31, one seed)",
           "figure": figure, "goal": "explain the gap between the deep models and the GBDT on the same inputs",
           "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(1),
           "tables": [{"header": ["input groups kept", *SCENARIOS, "overall", "best epoch"], "rows": rows}],
           "notes": ["each row: `unisr train --model dnn` with " + " ".join(f"--set {s}" for s in BUDGET + args.sets)
                     + ", seed 0, the removed groups' columns of the input layer zeroed by a forward hook (module "
                     "docstring); inputs version 3; a removed group's parameters get no gradient and its columns add nothing"],
           "data": {"fingerprint": fp}, "runs": runs}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("figure",)}, indent=1))
    return out


if __name__ == "__main__":
    main()
