"""The controlled gate case (``benchmarks/treems_gate_toy.py``): TreeMS's gates specialise per subtree when the
labels need it, and only then."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "treems_gate_toy.py"
_spec = importlib.util.spec_from_file_location("treems_gate_toy", _PATH)
toy = importlib.util.module_from_spec(_spec)
sys.modules["treems_gate_toy"] = toy  # dataclasses look their module up by name
_spec.loader.exec_module(toy)
gate_toy, toy_tree = toy.gate_toy, toy.toy_tree

SMALL = dict(steps=200, test_size=5000, seed=0)


def test_toy_tree_paths_share_root_and_subtree_nodes():
    names, paths, subtree = toy_tree(3)
    assert len(paths) == 6 and subtree.tolist() == [0, 0, 0, 1, 1, 1]
    assert {p[0] for p in paths} == {names.index("r")}
    assert {p[1] for p, s in zip(paths, subtree.tolist(), strict=True) if s == 1} == {names.index("r/b")}


def test_gates_specialise_when_only_they_can_fit_the_flip():
    torch.set_num_threads(1)
    learned = gate_toy(flip=True, context_in_x=False, **SMALL)
    frozen = gate_toy(flip=True, context_in_x=False, freeze_gates=True, **SMALL)
    d = learned.subtree_distance()
    assert d[0] < 1e-6  # layer 1's state h_1 is the root's for every leaf: one gate for all
    assert min(d[1:]) > 0.5, d  # layers 2-3 see the subtree: the two subtrees use different experts
    assert learned.auc > 0.85 and learned.auc > learned.oracle_auc - 0.03, (learned.auc, learned.oracle_auc)
    assert frozen.auc < 0.6 and frozen.max_from_uniform() == 0.0  # uniform gates cannot fit opposite signs


def test_gates_stay_near_uniform_when_labels_do_not_need_them():
    torch.set_num_threads(1)
    same = gate_toy(flip=False, context_in_x=False, **SMALL)
    flip = gate_toy(flip=True, context_in_x=False, **SMALL)
    assert max(same.subtree_distance()) < 0.2 < min(flip.subtree_distance()[1:])
    assert same.auc > 0.85
