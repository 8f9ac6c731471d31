"""BOMGraph's two training losses beside the disentangled representation's regularisers (Fan et al., CIKM'23,
section 3.4): the supervised InfoNCE of a query against its positive item and M items drawn from the positive's
category (eq. 13), and the dropout contrastive loss of each refined item against its own dropped-out copy, the
batch's other items being the negatives (eq. 14). ``sim`` is the cosine in both.

``CategoryNegatives`` draws the in-category negatives, vectorised (per row, or once per group of rows that share a
category, ``draw_shared``): the corpus is sorted by category once, and a
row's M draws are uniform offsets into its positive's category segment (an offset that lands on the positive
itself moves to the next item of the segment, so a negative is never the positive while the category has two
items or more).

Equations to code:
    eq. 13 L^O = -log( e^{sim(x, i+)/tau} / (sum_{i- in N-} e^{sim(x, i-)/tau} + e^{sim(x, i+)/tau}) )  ``infonce``
    eq. 14 L^CL = -log( e^{sim(i, i+)/tau} / (sum_{i- in B \\ i} e^{sim(i, i-)/tau} + e^{sim(i, i+)/tau}) ),
           i+ = dropout(i) with keep probability p_d                                    ``dropout_contrastive``
Both are means over the batch (the paper sums; see ``nn/disentangle.py``).

Shapes:
    infonce(x [B, d], pos [B, d], neg [B, M, d], tau) -> []
    dropout_contrastive(items [B, d], keep, tau, generator) -> []
    CategoryNegatives(item_category [N + 1]).draw(pos [B], m, generator) -> [B, m] item indices
    CategoryNegatives.draw_shared(pos [B], group [B], m, generator) -> (neg [G, m], inv [B], drop [B, m])
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def infonce(x: Tensor, pos: Tensor, neg: Tensor, tau: float, drop: Tensor | None = None) -> Tensor:
    """Eq. 13: the positive in column 0 against the row's own M negatives, cosine over ``tau``. ``drop``
    [B, M] bool: negatives left out of the row's sum (a shared draw that is the row's own positive)."""
    x, pos, neg = F.normalize(x, dim=-1), F.normalize(pos, dim=-1), F.normalize(neg, dim=-1)
    s_neg = torch.einsum("bd,bmd->bm", x, neg)
    if drop is not None:
        s_neg = s_neg.masked_fill(drop, float("-inf"))
    s = torch.cat([(x * pos).sum(1, keepdim=True), s_neg], 1) / tau
    return F.cross_entropy(s, torch.zeros(len(x), dtype=torch.long, device=x.device))


def dropout_contrastive(items: Tensor, keep: float, tau: float, generator: torch.Generator | None = None) -> Tensor:
    """Eq. 14: each item against its dropout copy (keep probability ``keep``, inverted scaling as
    ``nn.Dropout``; the cosine does not see the scale) among the batch's other items."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep probability {keep} must be in (0, 1]")
    mask = (torch.rand(items.shape, generator=generator) < keep).to(items.dtype)
    plus = items * mask / keep
    a, p = F.normalize(items, dim=-1), F.normalize(plus, dim=-1)
    other = a @ a.T / tau  # [B, B] the batch's other items (the diagonal is the anchor itself: masked)
    eye = torch.eye(len(a), dtype=torch.bool, device=a.device)
    other = other.masked_fill(eye, float("-inf"))
    s = torch.cat([(a * p).sum(1, keepdim=True) / tau, other], 1)
    return F.cross_entropy(s, torch.zeros(len(a), dtype=torch.long, device=a.device))


class CategoryNegatives:
    """Uniform negatives from the positive item's category.

    Shapes:
        item_category: [N + 1] category per item entity (row 0 = OOV, never drawn; -1 = unknown)
        draw(pos [B], m) -> [B, m] item entity indices
    """

    def __init__(self, item_category: np.ndarray) -> None:
        cat = np.asarray(item_category, np.int64).copy()
        cat[0] = -2  # the OOV row is a category of its own, never a positive's
        self.category = cat  # [N + 1] (-1 unknown, -2 the OOV row)
        self.order = np.argsort(cat, kind="stable")  # item entities sorted by category
        sc = cat[self.order]
        self.start = np.searchsorted(sc, cat, side="left")  # per item: its category's segment in ``order``
        self.size = np.searchsorted(sc, cat, side="right") - self.start
        self.rank = np.empty(len(cat), np.int64)
        self.rank[self.order] = np.arange(len(cat))

    def draw(self, pos: Tensor, m: int, generator: torch.Generator | None = None) -> Tensor:
        p = pos.numpy().astype(np.int64)
        start, size = self.start[p], self.size[p]
        u = torch.rand((len(p), m), generator=generator, dtype=torch.float64).numpy()
        others = np.maximum(size - 1, 1)[:, None]
        off = np.minimum((u * others).astype(np.int64), others - 1)  # uniform among the category's other items
        own = (self.rank[p] - start)[:, None]
        off = np.where((off >= own) & (size[:, None] > 1), off + 1, off)  # skip the positive itself
        return torch.from_numpy(self.order[start[:, None] + off])

    def draw_shared(self, pos: Tensor, group: Tensor, m: int, generator: torch.Generator | None = None
                    ) -> tuple[Tensor, Tensor, Tensor]:
        """One draw of ``m`` per ``group`` (rows of a group share a category: the group's first row's
        category), shared by the group's rows. Each row still sees ``m`` uniform draws from its category; they
        are correlated across the rows of a group (as TensorFlow's ``sampled_softmax_loss`` shares one sample
        across the batch), so the encoder runs once per group draw instead of once per row.

        Returns (negatives [G, m], row -> group [B], drop [B, m]: a shared draw equal to the row's positive)."""
        g = group.numpy().astype(np.int64)
        _, first, inv = np.unique(g, return_index=True, return_inverse=True)
        neg = self.draw(pos[torch.as_tensor(first)], m, generator)
        inv_t = torch.as_tensor(inv.reshape(-1), dtype=torch.long)
        return neg, inv_t, neg[inv_t] == pos[:, None]
