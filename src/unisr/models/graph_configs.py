"""Declared interface of the graph models: the configuration classes and registration constants that several
model files share (SRJGraph's GNN baselines; TreeMS and its sharing baselines; BOMGraph and its graph
baselines), and the sampler spec each config declares. Model files import this module, never one another.

Shapes:
    TreeGNNConfig.sampler_spec() -> TargetAwareSpec; ShareConfig.sampler_spec() -> SocialSpec
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from unisr.graph.hooks import SocialSpec, TargetAwareSpec
from unisr.models.registry import ModelConfig, RankerConfig

# ------------------------------------------------------------------------ SRJGraph's GNN baselines
# what every GNN baseline declares: SRJGraphHook fills batch.subgraph ("graph:srjgraph")
TREE_GNN_NEEDS = ("sparse", "scenario", "query_tokens", "graph:srjgraph")
# paper sec. 5.3.1: joint mini-batches alternate search / recommendation. The paper trains every model with
# Adagrad, but Adagrad at SRJGraph's lr 0.05 leaves these GNNs at or below AUC 0.5 on the simulated data (sim_tiny,
# joint, 4 epochs: GAT valid 0.47 / 0.38) where Adam 1e-3 trains them (0.56 / 0.67): a deviation, see the docs.
# eval_batch_size: 16384 targets x ~350 sampled nodes x (du + dp) floats would take several GB per batch
TREE_GNN_DEFAULTS = {"train": {"optimizer": "adam", "lr": 1e-3},
                     "data": {"policy": "alternating", "groups": [["kind:search"], ["kind:recommend"]],
                              "eval_batch_size": 2048}}


class TreeGNNConfig(RankerConfig):
    """Settings shared by the GNN baselines; the sampling ones declare the ``graph:srjgraph`` sampler."""

    # dense embedding gradients (dense Adam) by default, overriding the table-size rule: on the small marketplace
    # neither mode is clearly faster for these models (sparse/dense 0.87-1.11 over two runs, benchmarks/results/
    # sparse_graph_models.json), and SparseAdam is another optimizer (lazy moments), so the recorded table-3
    # runs (dense Adam) keep their meaning. ``model.sparse_grad=null`` applies the rule
    sparse_grad: bool | None = False

    user_widths: list[int] = [25, 1, 10]  # paper sec. 5.3.1, the same as SRJGraph
    item_widths: list[int] = [1, 25, 1]
    category_filter: bool = True  # paper: all GNN models sample with category filtering
    # sample only clicks made before the target event (the paper's background window is the history; the
    # graph here also holds the training window, so a training event would otherwise see its future)
    temporal: bool = True
    dropout: float = 0.0
    mlp: list[int] = [200, 80]  # per task (search / recommendation), as SRJGraph's eq. 13

    def sampler_spec(self) -> TargetAwareSpec:
        return TargetAwareSpec(self.user_widths, self.item_widths, self.category_filter, self.temporal)


# ------------------------------------------------------------------------ TreeMS and its sharing baselines
DEFAULT_VIEWS = ["friend", "pay", "share"]  # the paper's three views (sec. 4.1.1)
# the pair's history (eq. 3's t): the paper's views and the v2 simulator's interaction counts (docs/SIMULATOR.md)
DEFAULT_PAIR_VIEWS = ["friend", "pay", "share", "interact"]
SHARE_NEEDS = ("sparse", "dense", "scenario", "graph:social")
# every baseline trains as TreeMS does (one protocol for table 2): share scenarios only, Adagrad (sec. 3.5)
# TreeMS paper: AdaGrad, lr not given. lr 0.1 chosen on the validation split of sim-small (TreeMS, seed 1,
# 2 epochs: valid AUC 0.689 at lr 0.1 vs 0.352 at lr 0.01, where the ranking stays as initialised); every
# sharing model uses the same setting so the comparison stays fair
SHARE_DEFAULTS = {"train": {"optimizer": "adagrad", "lr": 0.1, "weight_decay": 1e-6},
                  "data": {"scenario_kinds": ["share"], "batch_size": 1024}}


class ShareConfig(RankerConfig):
    """Hyper-parameters every sharing baseline has. ``views`` and ``fanouts`` declare the ``graph:social``
    sampler."""

    views: list[str] = list(DEFAULT_VIEWS)
    fanouts: list[int] = [10]  # neighbours per hop and view; len(fanouts) = number of GNN layers
    scenario_dim: int = 16
    pair_features: bool = True  # t's pair history (pair_mode) in eq. 3's t
    # "directed" (issue 33): per view of pair_views, u -> v and v -> u as the social table writes them (pay_out vs
    # pay_in), each as an edge flag and log(1 + summed weight) (interaction / share / payment counts), 4 |pair_views|
    # features, independent of the sampled ``views``. "symmetric": the features before issue 33 (v1 records): per
    # sampled view, (u, v) an edge of the symmetrised, unweighted graph and u among v's sampled neighbours
    pair_mode: Literal["directed", "symmetric"] = "directed"
    pair_views: list[str] = list(DEFAULT_PAIR_VIEWS)  # directed mode only; a view the data lacks is a zero column
    hidden: list[int] = [256, 128, 64]
    dropout: float = 0.0
    # the ReLU stacks on x (MLPs, experts, towers, prediction layer): "he" = N(0, 2/fan_in), zero biases;
    # "torch" = nn.Linear's default, whose signal shrinks ~6^(-L/2) through L ReLU layers (TreeMS: 7 layers,
    # 7 epochs at the base-rate loss, logits std 0.003 at epoch 2; docs/models/treems.md). Same rule for every
    # sharing model so table 2 stays a like-for-like comparison. Gates, attention and meta networks keep theirs.
    init: Literal["he", "torch"] = "he"

    def sampler_spec(self) -> SocialSpec:
        return SocialSpec(self.views, self.fanouts, directed_pairs=self.pair_features and self.pair_mode == "directed")


# ------------------------------------------------------------------------ BOMGraph and its graph baselines
SEARCH_KINDS = ["search_text", "search_visual", "search_similar"]
# batch 2048 impressions = ~130 positive pairs per scenario (paper: 256) and 20 epochs kept at the best validation
# NDCG@100 (paper: 3 epochs of a far larger log): see docs/models/bomgraph.md. The baselines train the same way
# (table 2: "the same graph, features and splits"); a single-scenario baseline sets data.scenario_kinds to one kind
SEARCH_GRAPH_DEFAULTS = {"train": {"monitor": "scenarios.*.ndcg@100", "optimizer": "adagrad", "lr": 0.05,
                                   "epochs": 20, "matching": {"exclude": "none"}},
                         "data": {"batch_size": 2048, "scenario_kinds": SEARCH_KINDS}}
SEARCH_GRAPH_NEEDS = ("sparse", "scenario")


class SearchGraphConfig(ModelConfig):
    """What BOMGraph and its baselines share (``nn/search_graph.py``): node initialisation, the graph, the
    in-category retrieval and the training objective's eq. 13 (``train/bomgraph.py``). The eq. 12 / 14 / sec. 3.4
    switches default off here; BOMGraph turns them on."""

    dim: int = Field(128, ge=2)  # node embedding after GAT, FC and query / item vectors (paper: 128)
    id_dim: int = Field(32, ge=1)  # id embedding width before the node FC (paper: not stated)
    term_dim: int = Field(50, ge=1)  # title / query term embedding (paper: 50-d word2vec)
    # sparse gradients (sparse Adagrad: the same update as dense Adagrad without weight decay, max weight
    # difference 1.2e-7 after 10 steps) for the id and term tables; None = the one table-size rule
    # (nn/embedding.py:sparse_gradients on the item table's rows). A step looks the tables up once per node type
    # of ~100 metapath trees and each dense lookup gradient fills the whole table: at the medium preset (300k
    # items, sparse by the rule) a step takes 1,046 ms sparse vs 2,247 ms dense (one round, 1 thread, loaded
    # machine); on the small data (60k items, dense by the rule) dense is faster (578-652 vs 698-758 ms, three
    # interleaved rounds). Measured with benchmarks/bomgraph_speed.py's setup and step, docs/models/bomgraph.md
    sparse_grad: bool | None = None
    one_hop: int = Field(3, ge=1)  # neighbours sampled at hop 1 (paper: 3)
    two_hop: int = Field(3, ge=1)  # at hop 2 (paper: 3)
    negatives: int = Field(10, ge=1)  # M in-category negatives of eq. 13 (paper: not stated)
    shared_negatives: bool = True  # one draw of M per (scenario, category) of a batch, shared by its rows (the
    # encoder runs per draw, not per row: see docs/models/bomgraph.md); False = M draws of each row's own
    temperature: float = Field(0.1, gt=0)  # tau of eqs. 7, 13, 14 (paper: not stated)
    category_level: int = Field(1, ge=0)  # category path level of the in-category negatives (1 = level 2)
    query_buckets: int = Field(65536, ge=1)  # keyword-id embedding rows (node id mod buckets; the node count is
    # known only once the graph is attached, after the weights are built)
    in_category: bool = True  # retrieve within the query's category (sec. 4.1); False = the whole corpus
    # a visual query's category (sec. 4.1 predicts it): "classifier" = the majority category of the
    # ``visual_knn`` items nearest by image cosine, "data" = the query table's category (for comparison)
    visual_category: Literal["classifier", "data"] = "classifier"
    visual_knn: int = Field(1, ge=1)
    se_threshold: float = Field(0.85, ge=-1, le=1)  # SE edge cosine (paper: 0.85)
    # the search kinds whose clicks form CE / OE edges (None = all three); SE (content) edges come from every
    # search scenario either way. Train on the same kinds (data.scenario_kinds)
    subset: list[Literal["search_text", "search_visual", "search_similar"]] | None = None
    # query CE edges from keyword queries only (sec. 3.1: a visual query is no node); False = every logged query
    text_query_ce: bool = True
    # the objective's other terms (train/bomgraph.py), off unless a model turns them on
    lambda_dr: float = Field(0.0, ge=0)  # lambda_1 of eq. 15 (used only by a model with a ``dr``)
    betas: tuple[float, float, float] = (0.5, 0.7, 0.2)  # eq. 12 (paper: 0.5, 0.7, 0.2)
    dr_steps: tuple[bool, bool, bool] = (True, True, True)  # RD, CT, CA (table 4)
    lambda_cl: float = Field(0.0, ge=0)  # lambda_2 of eq. 15
    contrastive: bool = False  # the dropout contrastive loss, eq. 14
    augment: bool = False  # cross-scenario augmentation (sec. 3.4)
    keep_prob: float = Field(0.7, gt=0, le=1)  # p_d of eq. 14 (paper: 0.7)
