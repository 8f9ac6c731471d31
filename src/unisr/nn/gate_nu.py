"""Gate Neural Unit (PEPNet, Chang et al., KDD'23, eq. 1-2): ``δ = γ · sigmoid(W2 ReLU(W1 x + b1) + b2)``.

The gate of EPNet (scales the embedding) and of PPNet (scales each hidden layer of a tower); ``γ = 2`` lets a
gate amplify as well as damp (the product is 1 at the sigmoid's midpoint). Scenario-Wise Rec's
``basic/layers.py:GateNU`` is this layer with hidden size = output size.

Shapes:
    input: [*, in_dim] -> output: [*, out_dim], values in (0, gamma)
"""

from __future__ import annotations

from torch import Tensor, nn


class GateNU(nn.Module):
    """Two-layer gate ``γ · sigmoid(W2 ReLU(W1 x + b1) + b2)`` (hidden size defaults to ``out_dim``).

    Shapes:
        input: [*, in_dim] -> output: [*, out_dim] in (0, gamma)
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None, gamma: float = 2.0) -> None:
        super().__init__()
        h = hidden or out_dim
        self.gamma = gamma
        self.net = nn.Sequential(nn.Linear(in_dim, h), nn.ReLU(), nn.Linear(h, out_dim), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * self.net(x)
