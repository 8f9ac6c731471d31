"""TreeMS's multi-view social sampling: neighbours per view (friend / pay / share) for both users of a
sharing pair (source and destination)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from unisr.graph.build import social_type
from unisr.graph.samplers.blocks import Blocks
from unisr.graph.samplers.uniform import UniformSampler
from unisr.graph.store import HeteroGraph


class MultiViewSocialSampler:
    """Per view, ``fanouts[k]`` uniform neighbours at hop k (default one hop of 10)."""

    def __init__(self, graph: HeteroGraph, views: Sequence[str] | None = None,
                 fanouts: Sequence[int] = (10,)) -> None:
        views = list(views if views is not None else graph.meta.get("social_views", []))
        missing = [v for v in views if social_type(v) not in graph.relations]
        if missing:
            raise ValueError(f"no social view(s) {missing} in the graph")
        self.views = views
        self.samplers = {v: UniformSampler(graph, [social_type(v)] * len(fanouts), fanouts) for v in views}

    def sample(self, users: Tensor | np.ndarray, seed: int = 0) -> dict[str, Blocks]:
        """Shapes: users [B] -> view -> Blocks."""
        return {v: s.sample(users, seed + 7919 * i) for i, (v, s) in enumerate(self.samplers.items())}

    def sample_pair(self, src_users: Tensor | np.ndarray, dst_users: Tensor | np.ndarray, seed: int = 0
                    ) -> dict[str, dict[str, Blocks]]:
        """Both users of each pair, every view. Shapes: src_users, dst_users [B] -> role -> view -> Blocks
        (roles ``src``, ``dst``; views in ``self.views`` order)."""
        return {role: self.sample(users, seed + off)
                for role, users, off in (("src", src_users, 0), ("dst", dst_users, 104729))}

    def subgraph(self, src_users: Tensor | np.ndarray, dst_users: Tensor | np.ndarray, seed: int = 0
                 ) -> dict[str, Tensor]:
        """Flat ``name -> [B, ...]`` tensors ``social.<view>.<src|dst>.*`` of ``sample_pair`` (for inspection;
        the batch hook builds the typed ``unisr.graph.subgraph.SocialSubgraph`` instead)."""
        out: dict[str, Tensor] = {}
        for role, by_view in self.sample_pair(src_users, dst_users, seed).items():
            for v, blk in by_view.items():
                out.update(blk.to_subgraph(f"social.{v}.{role}"))
        return out
