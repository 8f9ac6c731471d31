"""Multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

ACTIVATIONS = {"relu": nn.ReLU, "prelu": nn.PReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
               "leaky_relu": nn.LeakyReLU}


class MLP(nn.Module):
    """Linear -> [BatchNorm | LayerNorm] -> activation -> dropout, for each hidden size; optional output layer.

    Shapes:
        input: [*, in_dim]
        output: [*, out_dim] if ``out_dim`` else [*, hidden[-1]]
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int | None = None, *,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 layer_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers.append(nn.Linear(d, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            if layer_norm:
                layers.append(nn.LayerNorm(h))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d = h
        if out_dim is not None:
            layers.append(nn.Linear(d, out_dim))
            d = out_dim
        self.net = nn.Sequential(*layers)
        self.out_dim = d

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
