"""BOMGraph's joint loss (Fan et al., CIKM'23, eq. 15), outside the model: per batch of clicked search rows,
the cross-scenario augmented pairs (``graph/augment.py``), the supervised InfoNCE of each query against its
positive and M in-category negatives (eq. 13), lambda_1 times the disentangled representation's regularisers
(eq. 12) and lambda_2 times the dropout contrastive loss of the positives (eq. 14).

The query and the positive item are sampled with the batch's (query, item) positives excluded (sec. 3.2's
re-sampling rule: the click being learnt is a graph edge, and must not be a neighbour of its own endpoints).

Shapes:
    forward(batch) -> (loss [], {"loss_match", "loss_rd", "loss_ct", "loss_ca", "loss_cl", "positives",
    "augmented"})
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.graph.augment import augment_pairs, augmentation_table
from unisr.nn.disentangle import disentangle_loss
from unisr.train.contrastive import CategoryNegatives, dropout_contrastive, infonce


class BOMGraphObjective(nn.Module):
    """Eq. 15 for a ``models/bomgraph.py:BOMGraph``.

    Shapes:
        forward(batch) -> (loss [], parts)
    """

    def __init__(self, model: nn.Module, mcfg=None, item_freq: np.ndarray | None = None, seed: int = 0) -> None:  # noqa: ANN001
        super().__init__()
        del mcfg, item_freq  # BOMGraph's negatives are in-category (eq. 13), not MatchingObjective's
        self.model = model
        self.cfg = model.cfg
        self.gen = torch.Generator().manual_seed(seed)
        self.table: np.ndarray | None = None
        self.negatives: CategoryNegatives | None = None
        self.search_ids = torch.tensor([model.names.index(n) for n in model.search], dtype=torch.long)

    def attach_interactions(self, train) -> None:  # noqa: ANN001 (evaluate.retrieval.Interactions)
        """Per-scenario training clicks -> the augmentation table; the graph's categories -> the negatives."""
        m = self.model
        m._need_graph()
        n1 = m.sampler.graph.num_nodes["item"]
        s_count = len(m.names)
        clicks = np.bincount(np.asarray(train.scenario, np.int64) * n1 + np.asarray(train.item, np.int64),
                             minlength=s_count * n1).reshape(s_count, n1)
        if self.cfg.augment:
            self.table = augmentation_table(m.sampler.graph, clicks, m.names, search=m.search)
        self.negatives = CategoryNegatives(m.item_category)

    def component_state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_component_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            raise KeyError(f"checkpoint has training-only components BOMGraph's objective lacks: {sorted(state)}")

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        if self.negatives is None:
            raise RuntimeError("BOMGraphObjective: call attach_interactions(train) first")
        m = self.model
        keep = (batch.label("click") > 0.5) & torch.isin(batch.scenario_id, self.search_ids)
        sel = batch.select(torch.nonzero(keep).squeeze(1))
        aug = 0
        if self.table is not None and len(sel):
            rows, items = augment_pairs(np.arange(len(sel)), sel.scenario_id.numpy(), sel.item_index.numpy(),
                                        self.table)
            if len(rows):  # each augmented pair is a copy of its source row with the substitute item
                idx = torch.cat([torch.arange(len(sel)), torch.as_tensor(rows)])
                new_items = torch.cat([sel.item_index, torch.as_tensor(items)])
                sel = dataclasses.replace(sel.select(idx), item_index=new_items)
                aug = len(rows)
        if len(sel) == 0:
            zero = sum(p.sum() * 0.0 for p in m.parameters())
            return zero, {"loss_match": 0.0, "positives": 0.0, "augmented": 0.0}
        items, scen = sel.item_index, sel.scenario_id
        nodes = m.query_group(sel)
        x = m.query_vectors(sel, positives=items)
        i, i_bar, f, z = m.encode_items(items, scen, pair_nodes=nodes)
        k = self.cfg.negatives
        if self.cfg.shared_negatives:  # one draw per (scenario, category) of the batch, shared by its rows
            cat = torch.as_tensor(self.negatives.category[items.numpy()])
            neg, inv, drop = self.negatives.draw_shared(items, scen * (int(cat.max()) + 3) + cat + 2, k,
                                                       self.gen)
            gscen = torch.zeros(len(neg), dtype=torch.long).index_put_((inv,), scen)
            _, neg_bar, _, _ = m.encode_items(neg.reshape(-1), gscen.repeat_interleave(k))
            neg_bar = neg_bar.view(len(neg), k, -1)[inv]
        else:
            drop = None
            neg = self.negatives.draw(items, k, self.gen)
            _, neg_bar, _, _ = m.encode_items(neg.reshape(-1), scen.repeat_interleave(k))
            neg_bar = neg_bar.view(len(sel), k, -1)
        loss = infonce(x, i_bar, neg_bar, self.cfg.temperature, drop)
        parts = {"loss_match": float(loss.detach()), "positives": float(len(sel)), "augmented": float(aug)}
        if m.dr is not None and self.cfg.lambda_dr > 0:
            ld, dparts = disentangle_loss(i, i_bar, f, z, self.cfg.temperature, self.cfg.betas, self.cfg.dr_steps)
            loss = loss + self.cfg.lambda_dr * ld
            parts.update(dparts)
        if self.cfg.contrastive and self.cfg.lambda_cl > 0 and len(sel) > 1:
            lc = dropout_contrastive(i_bar, self.cfg.keep_prob, self.cfg.temperature, self.gen)
            loss = loss + self.cfg.lambda_cl * lc
            parts["loss_cl"] = float(lc.detach())
        return loss, parts

