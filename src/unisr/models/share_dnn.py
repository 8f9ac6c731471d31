"""DNN baseline of TreeMS's table 2 (Niu et al., WSDM'21, sec. 4.1.2): TreeMS with its expert networks replaced
by one MLP, i.e. a plain MLP on the eq. 3 input x = concat(u, v, t, c) (``unisr.nn.social.ShareInput``)."""

from __future__ import annotations

from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.mlp import MLP
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks


@register_model("share_dnn", config=ShareConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="DNN baseline of Niu et al., TreeMS, WSDM'21 (experts replaced by MLPs)")
class ShareDNN(SocialSampling, nn.Module):
    """Sharing recommendation: one MLP on concat(u, v, t, c) shared by every scenario.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    def __init__(self, inp: ShareInput, hidden: list[int], dropout: float = 0.0) -> None:
        super().__init__()
        self.input = inp
        self.mlp = MLP(inp.x_dim, hidden, 1, dropout=dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareConfig) -> ShareDNN:
        model = cls(ShareInput.from_config(schema, cfg), cfg.hidden, cfg.dropout)
        return init_relu_stacks(model, cfg.init)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": self.mlp(self.input(batch, type(self).__name__).x()).squeeze(1)}
