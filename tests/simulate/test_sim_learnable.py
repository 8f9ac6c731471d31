"""The structure is there to be learned: joint training over all scenarios helps a sparse scenario.

A logistic regression on hashed one-hot features (item, user, category, brand, price, user x category,
purchasing power x price, scenario x position) trained on every item scenario beats the same model
trained on the sparse ``feed_deals`` feed alone, on ``feed_deals`` (held-out 40% of requests). The lead
will swap in the project trainer later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from unisr.simulate.checks import auc

N_BUCKETS = 1 << 18
FIELDS = [
    ("item_id",), ("user_id",), ("leaf",), ("l1",), ("brand",), ("price_level",),
    ("purchasing_power", "price_level"), ("gender", "l1"), ("user_id", "l1"),
    ("scenario_id",), ("scenario_id", "position"),
]
SPARSE = 12  # feed_deals


def hashed(d: pl.DataFrame) -> sp.csr_matrix:
    cols = []
    for k, f in enumerate(FIELDS):
        v = np.ones(d.height, dtype=np.int64)
        for c in f:
            v = v * 1_000_003 + d[c].cast(pl.Int64).to_numpy()
        cols.append((v * 2_654_435_761 + k * 97_531) % N_BUCKETS)
    ind = np.stack(cols, 1).reshape(-1)
    indptr = np.arange(0, len(ind) + 1, len(FIELDS))
    return sp.csr_matrix((np.ones(len(ind)), ind, indptr), shape=(d.height, N_BUCKETS))


def test_joint_beats_sparse_scenario_alone(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    items = pl.read_parquet(tiny_dir / "items.parquet", columns=["item_id", "category_path", "brand", "price_level"])
    items = items.with_columns(leaf=pl.col("category_path").list.get(2), l1=pl.col("category_path").list.get(0))
    users = pl.read_parquet(tiny_dir / "users.parquet")
    df = (
        tiny_events.filter(pl.col("target_user_id").is_null())
        .join(items.drop("category_path"), on="item_id")
        .join(users, on="user_id")
    )
    is_test = pl.Series(((df["request_id"].to_numpy() * 2_654_435_761) % 1_000_003) % 10 < 4)
    tr, te = df.filter(~is_test), df.filter(is_test & (pl.col("scenario_id") == SPARSE))
    x_tr, y_tr = hashed(tr), tr["click"].to_numpy()
    x_te, y_te = hashed(te), te["click"].to_numpy()
    assert y_te.sum() >= 20
    alone = (tr["scenario_id"] == SPARSE).to_numpy()
    m_alone = LogisticRegression(C=0.3, solver="liblinear").fit(x_tr[alone], y_tr[alone])
    m_joint = LogisticRegression(C=0.3, solver="liblinear").fit(x_tr, y_tr)
    a_alone = auc(y_te, m_alone.predict_proba(x_te)[:, 1])
    a_joint = auc(y_te, m_joint.predict_proba(x_te)[:, 1])
    a_oracle = auc(y_te, te["p_click"].to_numpy())
    assert a_joint > a_alone, (a_joint, a_alone)
    assert a_oracle > a_joint  # the truth stays the ceiling


def test_joint_training_beats_sparse_scenario_alone_with_project_trainer(tmp_path: Path) -> None:
    """The same check with the project's own trainer and DNN: all scenarios vs ``feed_deals`` alone.

    Split by request (random, seeded) so the sparse feed has enough test clicks; each run keeps its best
    validation epoch. The alone run gets a longer budget: with few batches per epoch it needs ~20 epochs just
    to learn the base rate (before that Adam's per-row steps push frequently shown items down and its AUC
    sits below 0.5).

    The tiny world with 240k events, not tiny's 80k: at 80k feed_deals has 19-39 test clicks (AUC standard
    error ~0.05), and the comparison is a coin toss on a new draw (data version 2, seeds 0 / 2: joint 0.563 /
    0.646 vs alone 0.597 / 0.663; v1 seeds 0-2 and v2 seed 1: joint ahead). At 240k (89 / 113 test clicks,
    v2 seeds 0 / 1) joint leads by 0.078 / 0.057 (0.701 vs 0.623, 0.607 vs 0.550).
    """
    import yaml

    from unisr.simulate import simulate
    from unisr.train.run import train_run

    src = tmp_path / "tiny_240k"
    simulate("tiny", src, seed=0, overrides={"n_events": 240_000})
    data = tmp_path / "tiny_by_request"
    data.mkdir()
    for f in src.iterdir():
        if f.suffix == ".parquet":
            (data / f.name).symlink_to(f)
    spec = yaml.safe_load((src / "dataset.yaml").read_text())
    spec["split"] = {"kind": "random", "ratios": [0.5, 0.1, 0.4], "seed": 0, "key": "request_id"}
    (data / "dataset.yaml").write_text(yaml.safe_dump(spec))
    common = ["train.progress=false", "data.batch_size=512", "train.threads=1"]
    joint = train_run("dnn", data, tmp_path / "joint", sets=common + ["train.epochs=12", "train.patience=3"],
                      seed=0).metrics["scenarios"]["feed_deals"]
    alone = train_run("dnn", data, tmp_path / "alone", seed=0, sets=common + [
        "train.epochs=40", "train.patience=10", "data.scenarios=[feed_deals]"]).metrics["scenarios"]["feed_deals"]
    assert joint["positives"] >= 80
    assert joint["auc"] > alone["auc"], (joint["auc"], alone["auc"])
    assert joint["oracle_auc"] > joint["auc"]
